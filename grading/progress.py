"""`kata test`: run the spec for some modules and show progress at a glance.

This is the student's loop (rustlings-style): one command, one table, the first failure to fix.
It runs pytest in a subprocess with a JSON report and folds the outcomes per module.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from grading.curriculum import Curriculum


@dataclass
class ModuleTally:
    passed: int = 0
    failed: int = 0
    first_failure: str = ""
    nodeids: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.passed + self.failed


def run_pytest_json(args: list[str], cwd: Path, env: dict | None = None) -> dict:
    """Run pytest with a JSON report and return the parsed report."""
    with tempfile.TemporaryDirectory() as scratch:
        report_path = Path(scratch) / "report.json"
        command = [sys.executable, "-m", "pytest", *args, "-q", "--json-report",
                   f"--json-report-file={report_path}", "--json-report-omit", "collectors", "log", "warnings"]
        completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
        if not report_path.exists():
            raise RuntimeError(f"pytest wrote no report (exit {completed.returncode}):\n{completed.stdout[-2000:]}{completed.stderr[-2000:]}")
        return json.loads(report_path.read_text())


def _first_line(test: dict) -> str:
    """The first line of the failure message of a failed/errored test."""
    for phase in ("setup", "call", "teardown"):
        info = test.get(phase) or {}
        if info.get("outcome") == "failed":
            text = (info.get("crash") or {}).get("message") or info.get("longrepr") or "failed"
            return text.splitlines()[0][:160]
    return test.get("outcome", "")


def tally(report: dict, curriculum: Curriculum) -> dict[int, ModuleTally]:
    """Fold a pytest-json-report into per-module pass/fail counts (by the mNN keywords)."""
    tallies = {m.number: ModuleTally() for m in curriculum}
    for test in report.get("tests", []):
        numbers = [m.number for m in curriculum if m.runner_id in test.get("keywords", [])]
        for number in numbers:
            entry = tallies[number]
            entry.nodeids.append(test["nodeid"])
            if test["outcome"] == "passed":
                entry.passed += 1
            else:
                entry.failed += 1
                entry.first_failure = entry.first_failure or f"{test['nodeid']}: {_first_line(test)}"
    return tallies


def render(tallies: dict[int, ModuleTally], curriculum: Curriculum, console: Console, title: str) -> None:
    table = Table(title=title)
    for column in ("module", "title", "passed", "total", "status"):
        table.add_column(column, justify="right" if column in ("passed", "total") else "left")
    for module in curriculum:
        entry = tallies[module.number]
        if entry.total == 0:
            continue
        status = "[green]done[/]" if entry.failed == 0 else "[red]in progress[/]"
        table.add_row(module.label, module.title, str(entry.passed), str(entry.total), status)
    console.print(table)
    for module in curriculum:
        entry = tallies[module.number]
        if entry.failed:
            console.print(f"[bold]Next:[/] module {module.label} -- {entry.first_failure}")
            break


def run(curriculum: Curriculum, root: Path, submission: Path, modules: list[int] | None,
        roots: list[str], console: Console) -> int:
    """Run the chosen test roots for the chosen modules; 0 when every selected test passed."""
    args = [r for r in roots if (root / r).is_dir()]
    args += ["--submission", str(submission)]
    if modules:
        args += ["--modules", ",".join(str(n) for n in modules)]
    env = dict(os.environ)
    report = run_pytest_json(args, cwd=root, env=env)
    tallies = tally(report, curriculum)
    render(tallies, curriculum, console, title=f"tinytorch at {submission}")
    summary = report.get("summary", {})
    console.print(f"{summary.get('passed', 0)} passed, {summary.get('total', 0) - summary.get('passed', 0)} not passed")
    return 0 if summary.get("total", 0) and summary.get("passed", 0) == summary.get("total", 0) else 1
