"""Tests of grading/authoring: the manifest, courses, the stub generator, the lint."""
