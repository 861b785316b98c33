"""Helpers shared by the machinery tests: grading a changed submission, attack sources, dataset files."""
