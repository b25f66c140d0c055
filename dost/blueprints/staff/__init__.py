"""DOST staff back office under /staff (blueprint `staff`)."""
