"""Pianqu's front doors: the CLI (and, later, the HTTP API and map views)."""
