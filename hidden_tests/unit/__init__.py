"""Held-out unit properties and edge cases, one file per module."""
