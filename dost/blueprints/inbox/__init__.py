"""The employer's inbox (blueprint `inbox`)."""
