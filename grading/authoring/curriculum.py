"""Load and validate the curriculum manifest (`grading/curriculum.toml`).

Every other part of the kata tool asks this module for module facts (numbers, slugs,
import paths, prerequisites, points, glossary terms) instead of hard-coding them.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePath

# The manifest sits at the top of grading/, not beside this loader: every package of the grader, the
# test harness and the milestones read it.
MANIFEST_PATH = Path(__file__).resolve().parents[1] / "curriculum.toml"
# The cross-module suites: each is one Classroom runner beside the modules' m01...m20, weighted by
# `<suite without the s>_points` in [grading].
SUITE_IDS = ("integration", "milestones")


class ManifestError(ValueError):
    """The manifest is malformed: the message names the field and the offending value."""


@dataclass(frozen=True)
class Module:
    number: int
    slug: str
    title: str
    tier: str
    track: str
    path: str  # dotted import path, e.g. "tinytorch.core.tensor"
    requires: tuple[int, ...]
    points: int
    systems: str
    concepts: tuple[str, ...]

    @property
    def label(self) -> str:
        """Two-digit label used in file names and messages: "01"."""
        return f"{self.number:02d}"

    @property
    def runner_id(self) -> str:
        """Id of this module's GitHub Classroom runner: "m01"."""
        return f"m{self.label}"

    @property
    def relative_file(self) -> PurePath:
        """File of this module inside a submission: tinytorch/core/tensor.py."""
        return PurePath(*self.path.split(".")).with_suffix(".py")

    @property
    def spec_file(self) -> str:
        return f"test_{self.label}_{self.slug}.py"


@dataclass(frozen=True)
class Milestone:
    """A historical model the student's package recreates once its required modules are done."""

    number: int
    year: int
    title: str
    requires: tuple[int, ...]  # module numbers, from a selection such as "1-8"

    @property
    def label(self) -> str:
        return f"Milestone {self.number} ({self.year} {self.title})"


@dataclass(frozen=True)
class GradingSettings:
    """The manifest's [grading] table: limits and weights used by `kata grade`."""

    test_cpu_seconds: float = 10
    test_cpu_floor: float = 1
    test_cpu_factor: float = 10
    run_cpu_seconds: float = 240
    import_cpu_seconds: float = 30
    wait_factor: float = 3
    overload_factor: float = 10
    memory_limit_mib: int = 4096
    output_limit_mib: int = 16
    max_processes: int = 64
    stop_after_timeouts: int = 3
    score_quantum: int = 16
    integration_points: int = 20
    milestone_points: int = 20

    @classmethod
    def from_table(cls, table: dict, source: str) -> "GradingSettings":
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(table) - known)
        if unknown:
            raise ManifestError(f"{source}: unknown [grading] setting(s) {unknown}; known: {sorted(known)}")
        for key, value in table.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ManifestError(f"{source}: [grading] {key} must be a positive number, found {value!r}")
        quantum = table.get("score_quantum", cls.score_quantum)
        if quantum & (quantum - 1):
            raise ManifestError(f"{source}: [grading] score_quantum must be a power of two, found {quantum}")
        return cls(**table)


def reachable(edges: dict, start) -> frozenset:
    """Everything `start` reaches through `edges` (node -> the nodes it depends on), not `start`
    itself unless a cycle leads back to it: a module's prerequisite closure, a package's imports."""
    seen: set = set()
    stack = list(edges.get(start, ()))
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(edges.get(current, ()))
    return frozenset(seen)


@dataclass(frozen=True)
class GraderPackages:
    """The manifest's [grader] table: the grader's own packages (grading/<name>/) and which of them
    each may import. The same idea as modules and prerequisites: `imports` names the packages a
    package may use directly, and what those may use, it may use too."""

    imports: dict[str, tuple[str, ...]]
    entry: str = ""  # the package that grading/__main__.py (`python -m grading`) belongs to

    @classmethod
    def from_table(cls, table: dict, source: str) -> "GraderPackages":
        where = f"{source}: [grader]"
        if not isinstance(table, dict):
            raise ManifestError(f"{where} must be a table, found {table!r}")
        unknown = sorted(set(table) - {"entry", "packages"})
        if unknown:
            raise ManifestError(f"{where} has unknown key(s) {unknown}; expected 'entry' and 'packages'")
        packages = table.get("packages", {})
        if not isinstance(packages, dict) or not all(
                isinstance(deps, list) and all(isinstance(d, str) for d in deps) for deps in packages.values()):
            raise ManifestError(f"{where}.packages must map each package to a list of package names, found {packages!r}")
        imports = {name: tuple(deps) for name, deps in packages.items()}
        for name, deps in imports.items():
            strangers = sorted(set(deps) - set(imports))
            if strangers:
                raise ManifestError(f"{where}.packages: {name} may import {strangers}, which are not packages listed there")
        entry = table.get("entry", "")
        if not isinstance(entry, str):
            raise ManifestError(f"{where}: entry must be a package name (a string), found {entry!r}")
        if entry and entry not in imports:
            raise ManifestError(f"{where}: entry {entry!r} is not one of the packages {sorted(imports)}")
        layers = cls(imports, entry)
        for name in imports:
            if name in layers.allowed(name):
                raise ManifestError(f"{where}.packages: {name} can reach itself through its imports (a cycle)")
        return layers

    def allowed(self, name: str) -> frozenset[str]:
        """Every package `name` may import: its direct imports and theirs, transitively (not itself)."""
        return reachable(self.imports, name)


_REQUIRED_FIELDS = {
    "number": int, "slug": str, "title": str, "tier": str, "track": str, "path": str,
    "requires": list, "points": int, "systems": str, "concepts": list,
}


class Curriculum:
    """The validated manifest: an ordered collection of modules plus course-wide policy."""

    def __init__(self, raw: dict, source: str = "<manifest>"):
        self.source = source
        self.package: str = raw.get("package", "tinytorch")
        self.tiers: tuple[str, ...] = tuple(raw.get("tiers", ()))
        self.policy: dict = dict(raw.get("policy", {}))
        self.grading = GradingSettings.from_table(dict(raw.get("grading", {})), source)
        self.grader = GraderPackages.from_table(raw.get("grader", {}), source)
        self.patch_hooks: dict[int, tuple[str, ...]] = {
            int(number): tuple(hooks) for number, hooks in raw.get("patch_hooks", {}).items()
        }
        entries = raw.get("module")
        if not isinstance(entries, list) or not entries:
            raise ManifestError(f"{source}: expected a non-empty [[module]] list, found {type(entries).__name__}")
        self.modules: tuple[Module, ...] = tuple(
            sorted((self._parse_module(entry) for entry in entries), key=lambda m: m.number)
        )
        self._by_number = {m.number: m for m in self.modules}
        self._requires = {m.number: m.requires for m in self.modules}  # the prerequisite graph
        self.planned: frozenset[int] = frozenset(raw.get("planned", ()))
        self.courses: dict[str, dict] = self._parse_courses(raw.get("courses", {}))
        self.milestones: tuple[Milestone, ...] = self._parse_milestones(raw.get("milestone", []))
        self._validate()

    def _parse_courses(self, table: dict) -> dict[str, dict]:
        """[courses.NAME] presets: `title` and `modules` (a selection such as "1-8"), both strings."""
        for name, entry in table.items():
            if not isinstance(entry, dict) or set(entry) != {"title", "modules"} or not all(
                    isinstance(v, str) for v in entry.values()):
                raise ManifestError(f"{self.source}: [courses.{name}] must have exactly the string fields "
                                    f"'title' and 'modules', found {entry!r}")
        return dict(table)

    # ------------------------------------------------------------------ parsing
    def _parse_milestones(self, entries: list) -> tuple[Milestone, ...]:
        """[[milestone]] entries: number, year, title and requires (a module selection like "1-8")."""
        if not isinstance(entries, list):
            raise ManifestError(f"{self.source}: expected a [[milestone]] list, found {type(entries).__name__}")
        milestones = [self._parse_milestone(entry) for entry in entries]
        numbers = [m.number for m in milestones]
        duplicates = sorted({n for n in numbers if numbers.count(n) > 1})
        if duplicates:
            raise ManifestError(f"{self.source}: milestone number(s) {duplicates} appear more than once")
        return tuple(sorted(milestones, key=lambda m: m.number))

    def _parse_milestone(self, entry: dict) -> Milestone:
        name = entry.get("number", entry.get("title", "?")) if isinstance(entry, dict) else "?"
        where = f"{self.source}: milestone {name}"
        fields = {"number": int, "year": int, "title": str, "requires": str}
        if not isinstance(entry, dict) or set(entry) != set(fields):
            raise ManifestError(f"{where}: expected exactly the fields {sorted(fields)}, found {entry!r}")
        for field, kind in fields.items():
            if not isinstance(entry[field], kind) or isinstance(entry[field], bool):
                raise ManifestError(f"{where}: field '{field}' must be {kind.__name__}, found {entry[field]!r}")
        try:
            requires = tuple(self.parse_selection(entry["requires"]))
        except ValueError as error:
            raise ManifestError(f"{where}: requires {entry['requires']!r}: {error}") from None
        return Milestone(entry["number"], entry["year"], entry["title"], requires)

    def _parse_module(self, entry: dict) -> Module:
        where = f"{self.source}: module {entry.get('number', entry.get('slug', '?'))}"
        for field, kind in _REQUIRED_FIELDS.items():
            if field not in entry:
                raise ManifestError(f"{where}: missing field '{field}'")
            if not isinstance(entry[field], kind) or (kind is int and isinstance(entry[field], bool)):
                raise ManifestError(
                    f"{where}: field '{field}' must be {kind.__name__}, found {type(entry[field]).__name__}"
                )
        return Module(
            number=entry["number"], slug=entry["slug"], title=entry["title"], tier=entry["tier"],
            track=entry["track"], path=entry["path"], requires=tuple(entry["requires"]),
            points=entry["points"], systems=entry["systems"],
            concepts=tuple(term.lower() for term in entry["concepts"]),
        )

    def _validate(self) -> None:
        for field in ("number", "slug", "path"):
            seen: dict = {}
            for module in self.modules:
                value = getattr(module, field)
                if value in seen:
                    raise ManifestError(
                        f"{self.source}: duplicate {field} {value!r} (modules {seen[value]} and {module.number})"
                    )
                seen[value] = module.number
        for module in self.modules:
            if module.number < 1:
                raise ManifestError(f"{self.source}: module numbers start at 1, found {module.number}")
            if not module.path.startswith(self.package + "."):
                raise ManifestError(
                    f"{self.source}: module {module.number} path {module.path!r} is outside package {self.package!r}"
                )
            if self.tiers and module.tier not in self.tiers:
                raise ManifestError(
                    f"{self.source}: module {module.number} tier {module.tier!r} is not one of {list(self.tiers)}"
                )
            if module.points <= 0:
                raise ManifestError(f"{self.source}: module {module.number} points must be positive, found {module.points}")
            for prerequisite in module.requires:
                if prerequisite not in self._by_number:
                    raise ManifestError(
                        f"{self.source}: module {module.number} requires unknown module {prerequisite}"
                    )
        for table, numbers in (("patch_hooks", self.patch_hooks), ("planned", self.planned)):
            for number in numbers:
                if number not in self._by_number:
                    raise ManifestError(f"{self.source}: {table} names unknown module {number}")
        self._check_acyclic()
        self._check_glossary()

    def _check_acyclic(self) -> None:
        # Kahn's algorithm: whatever cannot be ordered sits on a cycle.
        remaining = {m.number: set(m.requires) for m in self.modules}
        while True:
            ready = [n for n, deps in remaining.items() if not deps]
            if not ready:
                break
            for number in ready:
                del remaining[number]
            for deps in remaining.values():
                deps.difference_update(ready)
        if remaining:
            raise ManifestError(f"{self.source}: prerequisite cycle among modules {sorted(remaining)}")

    def _check_glossary(self) -> None:
        owner: dict[str, int] = {}
        for module in self.modules:
            for term in module.concepts:
                if term in owner:
                    raise ManifestError(
                        f"{self.source}: glossary term {term!r} is introduced twice (modules {owner[term]} and {module.number})"
                    )
                owner[term] = module.number

    # ------------------------------------------------------------------ queries
    def __iter__(self):
        return iter(self.modules)

    def __len__(self) -> int:
        return len(self.modules)

    def module(self, key: int | str) -> Module:
        """Look a module up by number (6), label ("06") or slug ("autograd")."""
        if isinstance(key, str):
            if key.isdigit():
                key = int(key)
            else:
                for module in self.modules:
                    if module.slug == key:
                        return module
                raise KeyError(f"no module with slug {key!r}; known: {', '.join(m.slug for m in self.modules)}")
        if key not in self._by_number:
            raise KeyError(f"no module number {key}; known: 1-{max(self._by_number)}")
        return self._by_number[key]

    def built(self) -> list[Module]:
        """Modules that are not marked `planned`: they must have reference, stub, spec and hidden tests."""
        return [m for m in self.modules if m.number not in self.planned]

    def closure(self, number: int) -> frozenset[int]:
        """Transitive prerequisites of a module (not including the module itself)."""
        return reachable(self._requires, self.module(number).number)

    def allowed(self, number: int) -> frozenset[int]:
        """Modules that code belonging to `number` may use: itself plus its closure."""
        return self.closure(number) | {number}

    def module_for_import(self, dotted: str) -> Module | None:
        """The module that owns an import path such as "tinytorch.core.tensor" (or a submodule of it)."""
        for module in self.modules:
            if dotted == module.path or dotted.startswith(module.path + "."):
                return module
        return None

    def module_for_path(self, path: str | PurePath) -> Module | None:
        """The module that owns a file, e.g. ".../tinytorch/core/tensor.py" or "spec/test_01_tensor.py"."""
        parts = PurePath(path).parts
        if self.package in parts:
            start = len(parts) - 1 - parts[::-1].index(self.package)
            dotted = ".".join(parts[start:])
            dotted = dotted[: -len(".py")] if dotted.endswith(".py") else dotted
            return self.module_for_import(dotted)
        name = PurePath(path).name
        if name.startswith("test_") and name[5:7].isdigit():
            number = int(name[5:7])
            return self._by_number.get(number)
        return None

    def runner_ids(self) -> list[str]:
        """Every runner a report can hold, in report order: m01...m20, then the suites."""
        return [m.runner_id for m in self.modules] + list(SUITE_IDS)

    def glossary(self) -> dict[str, int]:
        """Every glossary term mapped to the module that introduces it."""
        return {term: m.number for m in self.modules for term in m.concepts}

    def parse_selection(self, text: str) -> list[int]:
        """Parse "1-8,13" or "tensor,06" into sorted module numbers; ValueError names a bad part."""
        chosen: set[int] = set()
        for part in filter(None, (p.strip() for p in text.split(","))):
            try:
                if "-" in part and all(side.strip().isdigit() for side in part.split("-", 1)):
                    low, high = (int(side) for side in part.split("-", 1))
                    if low > high:
                        raise ValueError
                    numbers = range(low, high + 1)
                else:
                    numbers = [self.module(part).number]
                for number in numbers:
                    self.module(number)
                    chosen.add(number)
            except (KeyError, ValueError):
                raise ValueError(
                    f"unknown module selection {part!r}: expected numbers 1-{len(self)}, ranges like 1-8, or slugs"
                ) from None
        if not chosen:
            raise ValueError(f"empty module selection {text!r}")
        return sorted(chosen)


def parse(text: str, source: str = "<string>") -> Curriculum:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(f"{source}: not valid TOML: {error}") from None
    return Curriculum(raw, source)


@lru_cache(maxsize=None)
def load(path: str | Path = MANIFEST_PATH) -> Curriculum:
    path = Path(path)
    return parse(path.read_text(encoding="utf-8"), str(path))
