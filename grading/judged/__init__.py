"""Judged mode: the trusted-harness boundary. Pytest, the tests and the oracles run in a process that
never imports the submission; there `tinytorch` is a proxy to a sandboxed worker that does.

What: the proxy package (`proxy`) built from the API map (`apimap`, `api.toml`), the wire format
(`wire`, a safe serializer, never pickle), the worker process (`worker`) and the harness's side of
its pipes (`remote`).
Who runs it: the grading engine, in every judged run (the grader's default).
May import: the sandbox.
"""
