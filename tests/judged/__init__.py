"""Tests of grading/judged: the wire format, the worker, the proxy, and grading in judged mode."""
