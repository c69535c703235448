"""The `civicgrid` command: demo tokens, calls to the gateway, demo data."""
