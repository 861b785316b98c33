"""Reports: what a grade looks like to the people who read it.

What: the versioned report (`report`, `schemas/report.schema.json`), its renderings for terminals,
Markdown and GitHub annotations with student text escaped (`render`), and the capstone's
submission schema (`submission_schema`, `schemas/capstone-submission.schema.json`).
Who runs it: `kata grade` and `kata regrade` after a run; `kata stubs` writes the capstone schema.
May import: the engine (and what it may import).
"""
