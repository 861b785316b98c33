"""Stand-in for classroom-resources/autograding-grading-reporter@v1, for workflow tests under act.

It reads its input exactly as the real action does (see ../README.md): `INPUT_RUNNERS`, then for each
runner id the base64 JSON in `<ID upper-cased>_RESULTS`. It prints the two notices the real one
sends to Classroom (`Points X/Y` and the JSON `{"totalPoints", "maxPoints"}`), fails the step when a
runner's status is `fail` or `error`, and writes what it saw to $KATA_ACT_OUT/reporter.json.
"""
from __future__ import annotations

import base64
import json
import os
import re
import sys
from pathlib import Path

RUNNERS_INPUT = re.compile(r"^([a-zA-Z0-9]+,)*[a-zA-Z0-9]+$")


def fail(message: str, record: dict) -> int:
    print(f"::error::{message}")
    record["failed"] = message
    _write(record)
    return 1


def _write(record: dict) -> None:
    Path(os.environ["KATA_ACT_OUT"], "reporter.json").write_text(json.dumps(record, indent=2), encoding="utf-8")


def main() -> int:
    raw = os.environ.get("INPUT_RUNNERS", "")
    record: dict = {"runners": raw, "results": {}}
    if not RUNNERS_INPUT.match(raw):
        return fail("The runners input must be a comma-separated list of strings.", record)
    runner_results = []
    for runner in raw.split(","):
        encoded = os.environ.get(f"{runner.strip().upper()}_RESULTS")
        if encoded is None:
            return fail(f"no {runner.strip().upper()}_RESULTS in the environment", record)
        results = json.loads(base64.b64decode(encoded, validate=True).decode("utf-8"))
        record["results"][runner] = results
        runner_results.append(results)
    total = sum(test["score"] for r in runner_results if r.get("max_score") for test in r["tests"])
    maximum = sum(r["max_score"] for r in runner_results if r.get("max_score"))
    record["totalPoints"], record["maxPoints"] = total, maximum
    if maximum:
        print(f"::notice title=Autograding complete::Points {total}/{maximum}")
        print(f"::notice title=Autograding report::{json.dumps({'totalPoints': total, 'maxPoints': maximum})}")
    statuses = [r.get("status") for r in runner_results]
    if "fail" in statuses:
        return fail("Some tests failed.", record)
    if "error" in statuses:
        return fail("Some tests errored.", record)
    _write(record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
