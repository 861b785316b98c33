"""`kata watch`: run `kata test` again whenever a .py file of the submission's package changes.

It polls modification times (no file-system notification library: nothing to install, and the same
behaviour on every platform and in containers). Ctrl-C ends it quietly with status 0.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

POLL_SECONDS = 0.5

# path -> (mtime in ns, size): the size catches a rewrite within one mtime tick of a coarse clock.
Snapshot = dict[str, tuple[int, int]]


def snapshot(package_dir: Path) -> Snapshot:
    """Every .py file under package_dir (caches and hidden directories skipped)."""
    found: Snapshot = {}
    pending = [str(package_dir)]
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:  # removed between two looks: the next poll sees what replaced it
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__" and not entry.name.startswith("."):
                    pending.append(entry.path)
            elif entry.name.endswith(".py"):
                try:
                    info = entry.stat()
                except OSError:
                    continue
                found[entry.path] = (info.st_mtime_ns, info.st_size)
    return found


def changed_files(before: Snapshot, after: Snapshot) -> list[str]:
    """Files added, removed or modified between two snapshots."""
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


def watch(run_once: Callable[[], object], package_dir: Path, say: Callable[[str], None], *,
          shown_as: str = "", interval: float = POLL_SECONDS, stop: Callable[[], bool] = lambda: False,
          sleep: Callable[[float], None] | None = None) -> int:
    """Run `run_once` now and after every change under package_dir, until `stop()` is true after a
    poll or Ctrl-C; always 0. `stop` and `sleep` let a test drive the loop without waiting."""
    sleep = sleep or _sleep
    shown_as = shown_as or str(package_dir)
    try:
        say(f"watching {shown_as}/ for changes to .py files (Ctrl-C to stop)")
        # Taken before each run, so an edit saved while the tests run triggers the next run.
        before = snapshot(package_dir)
        run_once()
        while not stop():
            sleep(interval)
            after = snapshot(package_dir)
            changed = changed_files(before, after)
            before = after
            if changed:
                say(f"changed: {_describe(changed, package_dir, shown_as)}; running again")
                run_once()
    except KeyboardInterrupt:
        say("stopped watching")
    return 0


def _describe(paths: list[str], package_dir: Path, shown_as: str) -> str:
    """"tinytorch/core/tensor.py" or "tinytorch/core/tensor.py and 2 more"."""
    first = f"{shown_as}/{Path(paths[0]).relative_to(package_dir).as_posix()}"
    return first if len(paths) == 1 else f"{first} and {len(paths) - 1} more"
