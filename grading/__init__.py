"""The `kata` tool: curriculum manifest, stub generator, test runner, grader, lint and release."""
from pathlib import Path

# The instructor master repository this package was installed from (editable install).
REPO_ROOT = Path(__file__).resolve().parent.parent
