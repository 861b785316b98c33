"""What `classroom.yml` hands to GitHub Classroom's reporter (classroom-resources/autograding-grading-reporter).

The reporter reads a comma-separated `runners` input (letters and digits only) and, for each runner
id, the environment variable `<ID>_RESULTS`: base64 of a JSON object with `max_score` and `tests[]`.
The points it sends to the gradebook are the sum of the tests' `score` fields over runners with a
non-zero `max_score`, so the total that reaches Classroom equals the report's total. It fails the
workflow run when any runner's `status` is `fail` or `error`.

Our mapping of status: a module the grader could grade reports `pass` and carries its points in the
tests' scores; a module it could not grade (import failure, policy violation, crash, tampering)
reports `error`. So a week-1 student's run is green with 0 points and a list of what to implement
(not a red cross for every module not reached yet), and a red run always means "look at this".

Every environment string is capped by Linux at 128 KiB (MAX_ARG_STRLEN, name included), so each
payload is shrunk, by shortening the tests' messages, until its base64 fits PAYLOAD_BUDGET.
"""
from __future__ import annotations

import base64
import json
import re

ENVIRONMENT_STRING_LIMIT = 128 * 1024
PAYLOAD_BUDGET = 120 * 1024  # base64 characters per runner: room left for the variable's name
MESSAGE_LIMITS = (1000, 300, 80, 0)  # characters per test message, tried in this order
RUNNER_ID = re.compile(r"^[a-zA-Z0-9]+$")  # what the reporter accepts in its `runners` input
TEST_FIELDS = ("name", "status", "score", "max_score", "message", "line_no", "filename", "duration")


class PayloadError(ValueError):
    """A runner cannot be handed to the reporter (bad id, or too large even without messages)."""


def classroom_status(runner: dict) -> str:
    """`error` when the grader could not grade the module; `pass` otherwise (points carry the grade)."""
    return "error" if runner["status"] == "error" else "pass"


def runner_payload(runner: dict, message_limit: int = MESSAGE_LIMITS[0]) -> dict:
    """One module of the report, trimmed to what the reporter reads."""
    def trimmed(test: dict) -> dict:
        kept = {key: test[key] for key in TEST_FIELDS}
        if kept["message"]:
            kept["message"] = kept["message"][:message_limit]
        return kept

    return {"version": 1, "status": classroom_status(runner), "max_score": runner["max_score"],
            "tests": [trimmed(test) for test in runner["tests"]]}


def encoded(runner: dict) -> str:
    """The runner's payload as the reporter decodes it: base64 of UTF-8 JSON, within PAYLOAD_BUDGET."""
    for limit in MESSAGE_LIMITS:
        text = json.dumps(runner_payload(runner, limit), separators=(",", ":"))
        value = base64.b64encode(text.encode("utf-8")).decode("ascii")
        if len(value) <= PAYLOAD_BUDGET:
            return value
    raise PayloadError(f"runner {runner['id']}: {len(runner['tests'])} tests need {len(value)} base64 characters "
                       f"even without messages; the limit is {PAYLOAD_BUDGET}")


def outputs(report: dict) -> dict[str, str]:
    """Step outputs for the workflow: `runners` (ids of the graded runners, comma-separated), one
    base64 payload per runner id, and the totals (`points`, `max-points`) for the summary."""
    graded = [runner for runner in report["modules"] if runner["max_score"] > 0]
    for runner in graded:
        if not RUNNER_ID.match(runner["id"]):
            raise PayloadError(f"runner id {runner['id']!r} is not letters and digits, which the reporter requires")
    values = {"runners": ",".join(runner["id"] for runner in graded)}
    values.update({runner["id"]: encoded(runner) for runner in graded})
    values["points"] = f"{report['score']:g}"
    values["max-points"] = f"{report['max_score']:g}"
    return values


def github_output_lines(values: dict[str, str]) -> str:
    """`key=value` lines for $GITHUB_OUTPUT (every value here is a single line)."""
    for key, value in values.items():
        if "\n" in value or "\r" in value:
            raise PayloadError(f"output {key!r} spans several lines")
    return "".join(f"{key}={value}\n" for key, value in values.items())
