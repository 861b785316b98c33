"""The engine: one grading run, end to end.

What: the grader (`grader`: a submission in, per-module results out), the pytest subprocesses it
starts (`runner`) and the plugin loaded into them (`pytest_plugin`), the work directory with the
grader's own copies of the tests (`workspace`), the import probe (`probe`), what may arrive on a
result channel (`channel`), the policy scan (`policy`) and the points (`scoring`).
Who runs it: `kata grade` and `kata regrade`, on an instructor's or a student's machine.
May import: the judged harness, the sandbox and authoring.
"""
