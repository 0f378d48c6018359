"""The `tagpin` command line."""
