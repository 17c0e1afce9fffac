"""The `coffer` command."""
