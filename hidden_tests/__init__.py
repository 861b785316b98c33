"""Held-out tests: never shipped to students."""
