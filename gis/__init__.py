"""Pianqu's spatial model, storage, file I/O and geometry helpers (the bottom layer)."""
