"""Course schedules (course.toml) and the Classroom reporter payloads a grade turns into."""
from __future__ import annotations

import base64
import os
import datetime as dt
import json

import pytest

from grading import REPO_ROOT
from grading.authoring import course as course_module, curriculum as curriculum_module
from grading.authoring.course import CourseError
from grading.classroom import payload
from grading.cli import kata
from grading.engine.grader import GradeOptions, grade
from grading.reports import render, report as report_module

CURRICULUM = curriculum_module.load()


# ---------------------------------------------------------------- the schedule
@pytest.mark.parametrize("preset, assigned, prebuilt", [
    ("foundation", tuple(range(1, 9)), ()),
    ("architecture", tuple(range(1, 14)), ()),
])
def test_the_papers_configurations_are_presets(preset, assigned, prebuilt):
    chosen = course_module.build(CURRICULUM, preset=preset)
    assert (chosen.name, chosen.assigned, chosen.prebuilt) == (preset, assigned, prebuilt)


def test_optimization_preset_runs_14_to_19_on_a_prebuilt_core():
    chosen = course_module.build(CURRICULUM, preset="optimization")
    assert chosen.assigned == tuple(range(14, 20))
    assert chosen.prebuilt == tuple(range(1, 14)), "the paper's Configuration 3: a pre-built 01-13"


def test_a_course_may_not_assign_planned_modules():
    text = curriculum_module.MANIFEST_PATH.read_text().replace("planned = []", "planned = [15, 16]")
    planned = curriculum_module.parse(text)
    with pytest.raises(CourseError, match=r"module\(s\) 15, 16 are planned but not built yet"):
        course_module.build(planned, preset="optimization")


def test_a_later_module_alone_gets_its_prerequisites_prebuilt():
    chosen = course_module.build(CURRICULUM, modules="12")
    assert chosen.assigned == (12,)
    assert chosen.prebuilt == tuple(sorted(CURRICULUM.closure(12)))
    assert chosen.title == "Module 12"


def test_course_file_round_trips_with_due_dates():
    due = course_module.parse_due(["06=2026-12-01", "autograd=2026-12-08", "07=2027-01-15"], CURRICULUM)
    assert due == {6: dt.date(2026, 12, 8), 7: dt.date(2027, 1, 15)}, "a later --due for the same module wins"
    chosen = course_module.build(CURRICULUM, modules="6-7", due=due)
    again = course_module.loads(course_module.dumps(chosen), CURRICULUM)
    assert (again.assigned, again.prebuilt, again.due, again.title) == \
        (chosen.assigned, chosen.prebuilt, chosen.due, chosen.title)


@pytest.mark.parametrize("text, message", [
    ("assigned = [1, 2", "not valid TOML"),
    ("assigned = []", "'assigned' must list at least one module number"),
    ('assigned = ["1"]', "'assigned' must be a list of module numbers like [1, 2, 3], found ['1']"),
    ("assigned = [1, 42]", "'assigned' names unknown module(s) [42]"),
    ("assigned = [1]\ncolour = 3", "unknown field(s) ['colour']"),
    ('assigned = [1]\n[due]\n"02" = 2026-12-01', "due date for module(s) 02, which the course does not assign"),
    ('assigned = [1]\n[due]\n"01" = "soon"', "due date of '01' must be a date like 2026-12-01, found 'soon'"),
])
def test_bad_course_files_say_what_was_expected(text, message):
    with pytest.raises(CourseError) as caught:
        course_module.loads(text, CURRICULUM, "course.toml")
    assert message in str(caught.value) and str(caught.value).startswith("course.toml")


@pytest.mark.parametrize("item, message", [
    ("06", "--due expects MODULE=YYYY-MM-DD"),
    ("99=2026-12-01", "no module number 99"),
    ("06=next week", "expected a date like 2026-12-01"),
])
def test_bad_due_options_say_what_was_expected(item, message):
    with pytest.raises(CourseError, match=message):
        course_module.parse_due([item], CURRICULUM)


def test_without_a_course_file_every_built_module_is_assigned():
    assert not (REPO_ROOT / "course.toml").exists(), "the master repository has no course file"
    chosen = course_module.load(CURRICULUM)
    assert chosen.assigned == tuple(m.number for m in CURRICULUM.built())


def test_a_course_file_named_explicitly_must_exist(tmp_path, capsys):
    with pytest.raises(CourseError, match=r"course file .*missing.toml does not exist"):
        course_module.load(CURRICULUM, tmp_path / "missing.toml")
    assert kata.main(["grade", "stubs", "--course", str(tmp_path / "missing.toml")]) == 2
    assert "does not exist or is not a file" in capsys.readouterr().err


def test_a_grade_follows_the_course_only_assigned_modules_run_and_count(tmp_path):
    week_one = course_module.build(CURRICULUM, modules="1")
    options = GradeOptions(submission=REPO_ROOT / "stubs", tests_root=REPO_ROOT, reference=REPO_ROOT / "reference",
                           hidden=REPO_ROOT / "hidden_tests", jobs=2, course=week_one)
    report = report_module.build(grade(options, CURRICULUM))
    report_module.validate(report)
    assert [r["id"] for r in report["modules"]] == ["m01"]
    assert (report["score"], report["max_score"]) == (0, 10), "a week-1 student sees 0/10, not 0/150"
    assert report["course"]["not_assigned"] == [m.number for m in CURRICULUM.built()][1:]
    assert "| ⏳ m02 | Activations | | | | not yet assigned | |" in render.markdown(report)


# ---------------------------------------------------------------- Classroom payloads
def runner(tests: int, message: str = "", status: str = "fail") -> dict:
    return {"id": "m01", "status": status, "max_score": 10, "tests": [
        {"name": f"t{i}", "status": "fail", "score": 0, "max_score": 10 / tests, "message": message, "line_no": 0,
         "filename": "", "duration": 0.1} for i in range(tests)]}


def decoded(value: str) -> dict:
    return json.loads(base64.b64decode(value, validate=True))


def test_a_graded_module_is_not_a_red_run_but_an_ungradable_one_is():
    assert decoded(payload.encoded(runner(3)))["status"] == "pass"
    assert decoded(payload.encoded(runner(3, status="error")))["status"] == "error"


def test_payloads_shrink_their_messages_to_fit_the_environment_limit():
    big = runner(300, message="x" * 5000)
    value = payload.encoded(big)
    assert len(value) <= payload.PAYLOAD_BUDGET < payload.ENVIRONMENT_STRING_LIMIT
    messages = {t["message"] for t in decoded(value)["tests"]}
    assert messages == {"x" * 80}, "the longest message limit that fits is used"
    small = decoded(payload.encoded(runner(3, message="y" * 5000)))
    assert {t["message"] for t in small["tests"]} == {"y" * 1000}


def test_a_payload_that_cannot_fit_is_refused_with_the_numbers():
    with pytest.raises(payload.PayloadError, match="even without messages; the limit is"):
        payload.encoded(runner(5000))


def test_outputs_list_only_runners_with_points_and_match_the_report_totals():
    first, second = runner(2), {**runner(2), "id": "m02"}
    first["tests"][0].update(status="pass", score=2.5)
    report = {"score": 2.5, "max_score": 20, "modules": [first, second,
                                                         {**runner(0), "id": "integration", "max_score": 0}]}
    values = payload.outputs(report)
    assert values["runners"] == "m01,m02" and (values["points"], values["max-points"]) == ("2.5", "20")
    # What the reporter sends to the gradebook: the sum of the tests' scores over runners with points.
    sent = sum(t["score"] for rid in ("m01", "m02") for t in decoded(values[rid])["tests"])
    assert sent == report["score"]
    lines = payload.github_output_lines(values).splitlines()
    assert [line.split("=", 1)[0] for line in lines] == ["runners", "m01", "m02", "points", "max-points"]


def test_runner_ids_the_reporter_would_reject_are_refused():
    report = {"score": 0, "max_score": 10, "modules": [{**runner(1), "id": "m-01"}]}
    with pytest.raises(payload.PayloadError, match="is not letters and digits"):
        payload.outputs(report)


def test_multiline_output_values_are_refused():
    with pytest.raises(payload.PayloadError, match="spans several lines"):
        payload.github_output_lines({"runners": "m01\nEVIL=1"})


# ---------------------------------------------------------------- GitHub annotations
def test_github_annotations_are_a_score_line_and_a_handful_per_module():
    def failing(runner_id: str, index: int) -> dict:
        return {"runner": runner_id, "status": "fail", "filename": "tinytorch/core/tensor.py", "line_no": index,
                "name": f"test_{index}", "message": f"wrong {index}", "outcome": "failed"}

    report = {"score": 0, "max_score": 20, "notices": [], "course": {"not_assigned": [3]},
              "modules": [{"id": "m01", "module": 1, "status": "fail", "message": "x"},
                          {"id": "m02", "module": 2, "status": "fail", "message": "y"}],
              "tests": [failing("m01", i) for i in range(1, 60)] + [failing("m02", i) for i in range(1, 40)]}
    lines = render.annotations(report).splitlines()
    assert lines[0] == "::notice title=kata grade::Score 0/20: 0 of 2 modules complete; 1 not yet assigned"
    errors = [line for line in lines if line.startswith("::error")]
    assert len(errors) == 2 * render.ANNOTATIONS_PER_MODULE == 6, "not hundreds of ::error lines"
    assert [e.split("line=")[1].split(",")[0] for e in errors] == ["1", "2", "3", "1", "2", "3"], "the first failures"


# ---------------------------------------------------------------- collecting a roster
def test_the_roster_token_reaches_git_through_its_environment_not_its_command_line(tmp_path, monkeypatch):
    from grading.classroom import roster

    calls = tmp_path / "calls.txt"
    fake = tmp_path / "bin" / "git"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "ARGS $*" >> {calls}\nenv | grep ^GIT_CONFIG_VALUE_ | sed "s/^/HEADER /" >> {calls}\n'
                    'echo "fatal: repository not found" >&2\nexit 128\n', encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    monkeypatch.setenv(roster.TOKEN_VARIABLE, "s3cret-token")
    (tmp_path / "roster.csv").write_text("\ufeffstudent,repository\nalice,course/alice\n", encoding="utf-8")
    results = roster.collect(tmp_path / "roster.csv", tmp_path / "into", "https://github.com/")
    recorded = calls.read_text(encoding="utf-8")
    assert "s3cret-token" not in recorded.split("HEADER")[0], "never on the command line"
    expected = base64.b64encode(b"x-access-token:s3cret-token").decode()
    assert f"=Authorization: basic {expected}" in recorded
    assert "ARGS -C " in recorded and "clone --quiet --no-tags https://github.com/course/alice alice" in recorded
    (result,) = results
    assert not result.ok and "cannot clone course/alice: fatal: repository not found" in result.message
    assert roster.collection_error(tmp_path / "into" / "alice") == result.message
    assert not (tmp_path / "into" / "alice" / ".collect").exists(), "the reason lives outside the student's folder"


def test_a_student_cannot_forge_a_collection_error_from_inside_their_repository(tmp_path):
    from grading.classroom import roster

    student = tmp_path / "into" / "mallory"
    student.mkdir(parents=True)
    (student / ".collect").mkdir()
    (student / ".collect" / "mallory.txt").write_text("=HYPERLINK(...)", encoding="utf-8")
    (student / "COLLECT_ERROR.txt").write_text("not my fault", encoding="utf-8")
    assert roster.collection_error(student) is None


# ---------------------------------------------------------------- the command line
def test_a_closed_output_pipe_ends_kata_quietly():
    import subprocess
    import sys

    reader, writer = os.pipe()
    os.close(reader)  # the reader went away before kata printed anything (`kata lint | head -0`)
    done = subprocess.run([sys.executable, "-m", "grading", "lint"], cwd=REPO_ROOT, stdout=writer,
                          stderr=subprocess.PIPE, text=True, timeout=120)
    os.close(writer)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr
