"""`kata milestone N [options]`: run one of the historical milestones on a student's package.

The milestone runs as its own Python process (`python -m milestones.<name>`), the way a student
would run it by hand, with the repository on its import path so that `milestones` and `datasets`
resolve; every option after N is passed through (--submission, --seed, --epochs, --quick, ...).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

from grading import REPO_ROOT


def built_milestones() -> dict[int, str]:
    """Milestone number -> module name, from milestones/__init__.py (the one list of them); empty
    when this tree has no milestones/ folder."""
    if not (REPO_ROOT / "milestones" / "__init__.py").is_file():
        return {}
    sys.path.insert(0, str(REPO_ROOT))
    try:
        from milestones import MILESTONES
    finally:
        sys.path.remove(str(REPO_ROOT))
    return dict(MILESTONES)


def run_milestone(args: argparse.Namespace) -> int:
    from grading.authoring import curriculum as curriculum_module

    known = {m.number: m for m in curriculum_module.load().milestones}
    built = built_milestones()
    if args.number not in known:
        print(f"kata milestone: unknown milestone {args.number}: expected one of "
              f"{', '.join(str(n) for n in sorted(known))}", file=sys.stderr)
        return 2
    if not built:
        print(f"kata milestone: this tree has no milestones/ folder ({REPO_ROOT})", file=sys.stderr)
        return 2
    if args.number not in built:
        print(f"kata milestone: {known[args.number].label} is not built yet; built: "
              f"{', '.join(str(n) for n in sorted(built))}", file=sys.stderr)
        return 2
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", f"milestones.{built[args.number]}", *args.options]
    return subprocess.call(command, env=env)
