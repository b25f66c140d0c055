"""Public verification of notices: pages, keys and the JSON API."""
