"""Tests of the kata machinery itself (manifest, stub generator, runner, grader, lint, release)."""
