"""Tests of grading/sandbox: the operating-system boundary."""
