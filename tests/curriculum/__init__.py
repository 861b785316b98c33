"""Tests of the curriculum itself: the two-way proof (spec and hidden tests pass on reference/, fail on stubs/), the shared harness, composition bugs."""
