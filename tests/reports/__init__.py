"""Tests of grading/reports: what a report says, in every format."""
