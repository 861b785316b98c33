"""Tests of grading/student: the student loop (kata test, status, watch)."""
