"""Runs milestone programs inside a hidden test: the same code `kata milestone N` runs, on the package
under test, with bounded settings (fewer epochs, less data, fixed seeds) so each fits its test's time
limit. Progress lines go to the captured output; the verdict is the test's own thresholds."""
from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

from milestones import MILESTONES
from milestones._common import Run


def program(number: int):
    """The milestone's module (milestones/mNN_<name>.py)."""
    return importlib.import_module(f"milestones.{MILESTONES[number]}")


def unplotted_run(number: int, args: argparse.Namespace) -> Run:
    """A Run that never plots: a plotting library's first import can take longer than a test may."""
    return Run(number, args, submission=Path("package-under-test"), plots=False)


def quiet_run(number: int, tmp_path: Path, seed: int = 0, **options) -> Run:
    """A Run for calling a milestone's parts directly: its progress lines and JSON go to tmp_path."""
    args = argparse.Namespace(seed=seed, epochs=1, quick=False, out=tmp_path / f"m{number:02d}.json", **options)
    return unplotted_run(number, args)


def run_whole(number: int, tmp_path: Path, *argv: str) -> tuple[int, dict]:
    """Run milestone `number` end to end with command-line options `argv`: (exit status, JSON result)."""
    module = program(number)
    out = tmp_path / f"m{number:02d}.json"
    args = module.build_parser().parse_args([*argv, "--out", str(out)])
    status = module.run(unplotted_run(number, args))
    return status, json.loads(out.read_text(encoding="utf-8"))
