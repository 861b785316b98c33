"""The course schedule: which modules are assigned, which ship pre-built, and when each is due.

A released student template carries `course.toml` (written by `kata release`; the hidden bundle
carries the same file for the authoritative grade). Without one, as in the master repository,
every built module is assigned. Only assigned modules are graded and carry points; the others are
reported as "not yet assigned", so a week-1 student sees 0/10 on Module 01, not 0/150.

The paper's three course configurations are presets in the manifest's `[courses]` table.
"""
from __future__ import annotations

import datetime as dt
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from grading import REPO_ROOT
from grading.authoring.curriculum import Curriculum

COURSE_FILE = "course.toml"
NOT_ASSIGNED = "not yet assigned"


class CourseError(ValueError):
    """course.toml or a course option is malformed: the message names the field and the value."""


@dataclass(frozen=True)
class Course:
    name: str
    title: str
    assigned: tuple[int, ...]
    prebuilt: tuple[int, ...] = ()  # unassigned prerequisites that ship as the reference
    due: dict[int, dt.date] = field(default_factory=dict)
    source: str = ""  # the file it came from; empty for the default course

    def is_assigned(self, number: int) -> bool:
        return number in self.assigned

    def to_report(self) -> dict:
        """The course as the report records it (JSON-ready)."""
        return {"name": self.name, "title": self.title, "assigned": list(self.assigned),
                "prebuilt": list(self.prebuilt), "due": {f"{n:02d}": d.isoformat() for n, d in sorted(self.due.items())}}


def preset_names(curriculum: Curriculum) -> list[str]:
    return sorted(curriculum.courses)


def full_course(curriculum: Curriculum) -> Course:
    """Every built module assigned: the master repository's default."""
    return Course(name="full", title="Every built module", assigned=tuple(m.number for m in curriculum.built()))


def prerequisites_outside(curriculum: Curriculum, assigned: tuple[int, ...]) -> tuple[int, ...]:
    """The modules the assigned ones need (transitively) that are not assigned themselves."""
    needed: set[int] = set()
    for number in assigned:
        needed |= curriculum.closure(number)
    return tuple(sorted(needed - set(assigned)))


def build(curriculum: Curriculum, *, preset: str | None = None, modules: str | None = None,
          due: dict[int, dt.date] | None = None) -> Course:
    """A course from a preset name, an explicit selection ("1-8,13"), or both (the selection wins)."""
    if preset is not None and preset not in curriculum.courses:
        raise CourseError(f"unknown course {preset!r}; choose one of: {', '.join(preset_names(curriculum))}")
    name, title, selection = "custom", "", modules
    if preset is not None:
        entry = curriculum.courses[preset]
        name, title = preset, entry["title"]
        selection = modules or entry["modules"]
    if selection is None:
        return replace_due(full_course(curriculum), due or {}, curriculum)
    try:
        assigned = tuple(curriculum.parse_selection(selection))
    except ValueError as error:
        raise CourseError(str(error)) from None
    unbuilt = [n for n in assigned if n in curriculum.planned]
    if unbuilt:
        raise CourseError(f"module(s) {', '.join(f'{n:02d}' for n in unbuilt)} are planned but not built yet; "
                          f"built modules: {span([m.number for m in curriculum.built()])}")
    title = title or f"Module{'s' if len(assigned) > 1 else ''} {span(list(assigned))}"
    course = Course(name=name, title=title, assigned=assigned,
                    prebuilt=prerequisites_outside(curriculum, assigned))
    return replace_due(course, due or {}, curriculum)


def replace_due(course: Course, due: dict[int, dt.date], curriculum: Curriculum) -> Course:
    stray = sorted(set(due) - set(course.assigned))
    if stray:
        raise CourseError(f"due date for module(s) {', '.join(f'{n:02d}' for n in stray)}, "
                          f"which the course does not assign ({span(list(course.assigned))})")
    return Course(course.name, course.title, course.assigned, course.prebuilt, dict(sorted(due.items())),
                  course.source)


def parse_due(items: list[str], curriculum: Curriculum) -> dict[int, dt.date]:
    """["06=2026-12-01", "autograd=2026-12-08"] -> {6: date(2026, 12, 1), ...}."""
    due: dict[int, dt.date] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise CourseError(f"--due expects MODULE=YYYY-MM-DD, like 06=2026-12-01; got {item!r}")
        try:
            number = curriculum.module(key.strip()).number
        except KeyError as error:
            raise CourseError(f"--due {item!r}: {error.args[0]}") from None
        try:
            due[number] = dt.date.fromisoformat(value.strip())
        except ValueError:
            raise CourseError(f"--due {item!r}: expected a date like 2026-12-01 after '='") from None
    return due


def span(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> "01-03, 05"."""
    runs: list[list[int]] = []
    for number in sorted(numbers):
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ", ".join(f"{r[0]:02d}" if len(r) == 1 else f"{r[0]:02d}-{r[-1]:02d}" for r in runs)


# ---------------------------------------------------------------------------- the file
def dumps(course: Course) -> str:
    """course.toml text for a course (written by `kata release`)."""
    lines = [
        "# Course schedule, written by `kata release`; the grader reads it. Only assigned modules are",
        "# graded and carry points; `prebuilt` modules ship finished because assigned ones need them.",
        f"name = {json.dumps(course.name)}",  # a JSON string is a valid TOML basic string
        f"title = {json.dumps(course.title)}",
        f"assigned = [{', '.join(str(n) for n in course.assigned)}]",
        f"prebuilt = [{', '.join(str(n) for n in course.prebuilt)}]",
        "",
        "# Due dates by module label (YYYY-MM-DD); modules without one have no date.",
        "[due]",
    ]
    lines += [f'"{n:02d}" = {d.isoformat()}' for n, d in sorted(course.due.items())]
    return "\n".join(lines) + "\n"


def loads(text: str, curriculum: Curriculum, source: str = "<course>") -> Course:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise CourseError(f"{source}: not valid TOML: {error}") from None
    unknown = sorted(set(raw) - {"name", "title", "assigned", "prebuilt", "due"})
    if unknown:
        raise CourseError(f"{source}: unknown field(s) {unknown}; known: assigned, due, name, prebuilt, title")
    assigned = _numbers(raw.get("assigned"), "assigned", curriculum, source)
    if not assigned:
        raise CourseError(f"{source}: 'assigned' must list at least one module number, found {raw.get('assigned')!r}")
    prebuilt = _numbers(raw.get("prebuilt", []), "prebuilt", curriculum, source)
    due: dict[int, dt.date] = {}
    for key, value in dict(raw.get("due", {})).items():
        if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
            raise CourseError(f"{source}: due date of {key!r} must be a date like 2026-12-01, found {value!r}")
        try:
            due[curriculum.module(key).number] = value
        except KeyError as error:
            raise CourseError(f"{source}: due date for {key!r}: {error.args[0]}") from None
    course = Course(str(raw.get("name", "custom")), str(raw.get("title", "")), assigned, prebuilt, {}, source)
    try:
        return replace_due(course, due, curriculum)
    except CourseError as error:
        raise CourseError(f"{source}: {error}") from None


def _numbers(value: object, key: str, curriculum: Curriculum, source: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(n, int) and not isinstance(n, bool) for n in value):
        raise CourseError(f"{source}: '{key}' must be a list of module numbers like [1, 2, 3], found {value!r}")
    known = {m.number for m in curriculum}
    stray = [n for n in value if n not in known]
    if stray:
        raise CourseError(f"{source}: '{key}' names unknown module(s) {stray}; modules are 1-{max(known)}")
    return tuple(sorted(set(value)))


def load(curriculum: Curriculum, path: Path | None = None) -> Course:
    """The course in `path` (which must exist), else `course.toml` beside the tooling, else every
    built module."""
    if path is not None and not path.is_file():
        raise CourseError(f"course file {path} does not exist or is not a file")
    path = path if path is not None else REPO_ROOT / COURSE_FILE
    if not path.is_file():
        return full_course(curriculum)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CourseError(f"cannot read {path}: {error}") from None
    return loads(text, curriculum, str(path))
