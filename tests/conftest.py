"""Fixtures shared by the machinery's tests (tests/); the spec harness is the root conftest.py."""
import pytest

from grading.engine import grader as grader_module


@pytest.fixture
def without_policy_scan(monkeypatch):
    """Defence in depth: the runner's own guards must hold even for code the policy scan misses."""
    monkeypatch.setattr(grader_module.policy, "scan", lambda root, curriculum: [])
