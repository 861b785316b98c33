"""Tests of grading/engine: one grading run, its policy scan and scoring, and direct-mode attacks on it."""
