"""The visible specification: one pytest file per curriculum module (test_NN_slug.py)."""
