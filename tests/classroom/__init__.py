"""Tests of grading/classroom: release, the roster, the regrade and gradebook, the workflows under act."""
