"""The command line: `kata` (and `python -m grading`), nothing else.

What: the argument parser and its dispatch (`kata`), and one module of handlers per group of
subcommands (`grade`, `course`, `student`, `milestone`) that turn arguments into calls of the
packages below and their results into output and exit codes.
Who runs it: everyone who types `kata`; tests call the packages below, not argv, for logic.
May import: every package of the grader.
"""
