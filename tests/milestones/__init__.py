"""Tests of milestones/: each milestone program meets its criterion on the reference."""
