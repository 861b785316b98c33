"""Cross-module integration tests; each declares every module it needs."""
