"""What every milestone shares: its command line, the package it runs on, progress lines, text plots
and the JSON result.

A milestone runs on the student's package: `--submission DIR` (a directory holding tinytorch/), else
the one every other tool uses (reference/ in the instructor's repository, ./tinytorch in a student's
template). It must be chosen before anything imports tinytorch, so milestones import it inside
their `run` function, after `start` has put the package first on sys.path.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grading import default_submission
from grading.authoring.course import span
from grading.authoring.curriculum import load as load_curriculum


def milestone(number: int):
    """The manifest's [[milestone]] entry (year, title, label, the modules it needs)."""
    return next(entry for entry in load_curriculum().milestones if entry.number == number)


def parser(number: int, description: str, epochs: int) -> argparse.ArgumentParser:
    """The options every milestone accepts (each may add its own)."""
    options = argparse.ArgumentParser(prog=f"milestone {number}", description=description)
    options.add_argument("--submission", type=Path, default=None,
                         help="directory containing the tinytorch/ package to run on (default: the usual one)")
    options.add_argument("--seed", type=int, default=0, help="seed for data order and initial weights")
    options.add_argument("--epochs", type=int, default=epochs, help=f"training epochs (default {epochs})")
    options.add_argument("--quick", action="store_true", help="a short run (fewer epochs or steps)")
    options.add_argument("--out", type=Path, default=None,
                         help=f"where to write the JSON result (default build/milestones/m{number:02d}.json)")
    return options


@dataclass
class Run:
    """One milestone run: progress lines while it trains, then the verdict and the JSON result."""
    number: int
    args: argparse.Namespace
    submission: Path
    started: float = field(default_factory=time.perf_counter)
    curves: dict = field(default_factory=dict)
    plots: bool = True  # a PNG of the curves beside the JSON result, when matplotlib is installed

    @property
    def title(self) -> str:
        return milestone(self.number).label

    def say(self, text: str = "") -> None:
        print(text, flush=True)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def progress(self, label: str, epoch: int, epochs: int, unit: str = "epoch", **values: float) -> None:
        """One line per epoch (or other `unit`): `label epoch 3/20  loss 0.412  accuracy 91.0%  2.1 s`; the
        curves are kept for the JSON result."""
        parts = []
        for name, value in values.items():
            self.curves.setdefault(f"{label} {name}", []).append(float(value))
            parts.append(f"{name} {value * 100:5.1f}%" if "accuracy" in name else f"{name} {value:.4f}")
        self.say(f"  {label:<12} {unit} {epoch:>3}/{epochs}  " + "  ".join(parts) + f"  {self.elapsed():6.1f} s")

    @property
    def result_path(self) -> Path:
        """Where the JSON result goes: --out, or build/milestones/mNN.json under the current directory."""
        return self.args.out or (Path.cwd() / "build" / "milestones" / f"m{self.number:02d}.json")

    def finish(self, criterion: str, passed: bool, metrics: dict) -> int:
        """Print the verdict, write the JSON result; exit status 0 when the criterion is met, 1 if not."""
        wall = self.elapsed()
        result = {
            "milestone": self.number, "title": self.title, "criterion": criterion, "passed": bool(passed),
            "metrics": metrics, "wall_seconds": round(wall, 3), "seed": self.args.seed,
            "epochs": self.args.epochs, "quick": bool(self.args.quick), "submission": str(self.submission),
            "machine": machine(), "curves": self.curves,
        }
        out = self.result_path
        out.parent.mkdir(parents=True, exist_ok=True)
        plot = png_plot(self.curves, self.title, out.with_suffix(".png")) if self.plots else None
        result["plot"] = str(plot) if plot else None
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        verdict = "PASSED" if passed else "NOT YET"
        self.say(f"\n{self.title}: {verdict} -- {criterion} ({wall:.1f} s); result in {out}"
                 + (f", curves in {plot}" if plot else ""))
        return 0 if passed else 1


def machine() -> dict:
    """What the run was measured on."""
    return {"python": platform.python_version(), "numpy": np.__version__, "platform": platform.platform(),
            "machine": platform.machine(), "cpu_count": os.cpu_count()}


def start(number: int, args: argparse.Namespace) -> Run:
    """Put the chosen package first on sys.path and print the milestone's heading."""
    submission = (args.submission or default_submission()).resolve()
    if not (submission / "tinytorch" / "__init__.py").is_file():
        raise SystemExit(f"milestone {number}: --submission: expected a directory containing tinytorch/__init__.py, "
                         f"got {submission}")
    sys.path.insert(0, str(submission))
    run = Run(number, args, submission)
    run.say(f"{run.title} on {submission / 'tinytorch'} (needs modules {span(milestone(number).requires)}; "
            f"seed {args.seed})")
    return run


def main(number: int, build_parser, body) -> int:
    """Parse, start, run `body(run)`; a stub still raising NotImplementedError becomes advice, not a traceback."""
    args = build_parser().parse_args()
    run = start(number, args)
    try:
        return body(run)
    except NotImplementedError as missing:
        run.say(f"\nMilestone {number} needs a module you have not finished: {missing}")
        run.say("Finish that module first (`kata test NN` shows what is left), then run the milestone again.")
        return 2


def text_plot(values, width: int = 60, height: int = 8, label: str = "") -> str:
    """A curve as rows of characters (the highest value at the top), for terminals without matplotlib."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return ""
    columns = np.interp(np.linspace(0, values.size - 1, min(width, values.size)), np.arange(values.size), values)
    low, high = float(columns.min()), float(columns.max())
    span = high - low or 1.0
    levels = np.round((columns - low) / span * (height - 1)).astype(int)
    rows = []
    for level in range(height - 1, -1, -1):
        edge = f"{low + span * level / (height - 1):>9.3f} |" if level in (0, height - 1) else " " * 9 + " |"
        rows.append(edge + "".join("*" if value == level else " " for value in levels))
    rows.append(" " * 10 + "+" + "-" * len(levels) + (f" {label}" if label else ""))
    return "\n".join(rows)


def png_plot(curves: dict, title: str, path: Path) -> Path | None:
    """The curves as a PNG, one panel per curve, when matplotlib (the optional `plots` extra) is
    installed; None (and no file) when it is not or there is nothing to draw."""
    drawn = {name: values for name, values in curves.items() if len(values) > 1}
    if not drawn:
        return None
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")  # files only: no window, no display needed
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(len(drawn), 1, figsize=(7, 2.2 * len(drawn)), squeeze=False)
    for axis, (name, values) in zip(axes[:, 0], drawn.items()):
        axis.plot(np.arange(1, len(values) + 1), values, marker="." if len(values) <= 50 else None)
        axis.set_title(name, fontsize=9)
        axis.grid(alpha=0.3)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path


def accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of rows whose highest score is the label."""
    return float((np.asarray(scores).argmax(axis=1) == labels).mean())
