"""Reports: what a grade looks like to the people who read it.

What: the versioned report (`report`, `schemas/report.schema.json`), its renderings for terminals,
Markdown and GitHub annotations (`render`) with student text escaped for each (`text`), and the capstone's
submission schema (`submission_schema`, `schemas/capstone-submission.schema.json`).
Who runs it: `kata grade` and `kata regrade` after a run; `kata stubs` writes the capstone schema.
May import: the engine (and what it may import).
"""
