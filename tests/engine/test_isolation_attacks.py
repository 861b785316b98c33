"""A hostile student against the sandbox: each fixture is an attack that worked before the grader ran
submissions inside bubblewrap, with its exact outcome asserted.

Every attack rides on the untouched stub of module 07 (honest score: 0), runs when the module is
imported (the import probe, then every test process) or when a test calls `SGD.step`, and is graded
with the policy scan switched off: the scan is advisory, the sandbox is the boundary. The claims:
the score is not above the honest score, no hidden-test text, reference text or environment value
appears in the report or any output format, nothing outside the sandbox's scratch changes, and no
process survives the grade.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path

import pytest
from rich.console import Console

from grading import REPO_ROOT
from grading.reports import render
from tests.support.attacks import SILENCE_NUMPY_CORE, SILENCE_NUMPY_TESTING, WRONG_SGD
from tests.support.grading import graded, runner, submission

STUB = (REPO_ROOT / "stubs" / "tinytorch" / "core" / "optimizers.py").read_text()
HIDDEN_FILE = REPO_ROOT / "hidden_tests" / "unit" / "test_07_optimizers_hidden.py"
REFERENCE_FILE = REPO_ROOT / "reference" / "tinytorch" / "core" / "optimizers.py"
# Lines only the secret files hold: a hidden test's name and a line of a reference solution.
HIDDEN_MARKER = next(line.split("(")[0].removeprefix("def ") for line in HIDDEN_FILE.read_text().splitlines()
                     if line.startswith("def test_"))
REFERENCE_MARKER = "for param, state in zip(self.params, self.state):"


def hostile(tmp_path: Path, attack: str) -> Path:
    """The stub of module 07 with `attack` run when the module is imported."""
    return submission(tmp_path, tinytorch__core__optimizers_py=STUB + "\n" + attack)


def everything_printed(report: dict) -> str:
    console = Console(record=True, width=300)
    render.table(report, console)
    return "\n".join([json.dumps(report), render.markdown(report), render.annotations(report), console.export_text()])


def digest(*folders: Path) -> str:
    sha = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            sha.update(str(path).encode() + path.read_bytes())
    return sha.hexdigest()


def m07_score(report: dict) -> float:
    assert report["isolation"]["kind"] == "bubblewrap", "these attacks are only meaningful inside the sandbox"
    return runner(report, "m07")["score"]


# ---------------------------------------------------------------- taking the solutions
COPY_FROM_SIBLINGS = f"""
import pathlib as _p
_here = _p.Path(__file__).resolve()
_work = _here.parents[4]
for _candidate in [*(_work / "packages").glob("*/tinytorch/core/optimizers.py"), _p.Path({str(REFERENCE_FILE)!r})]:
    try:
        _text = _candidate.read_text()
    except OSError:
        continue
    if "NotImplementedError" not in _text.split("class SGD")[-1][:3000]:
        try:
            _here.write_text(_text)
        except OSError:
            pass
        exec(compile(_text, str(_here), "exec"), globals())
        break
"""


def test_copying_a_solution_from_a_sibling_variant_or_the_repository_finds_nothing(tmp_path, without_policy_scan):
    report = graded(hostile(tmp_path, COPY_FROM_SIBLINGS))
    assert m07_score(report) == 0, "a solution was reachable from the submission's sandbox"


# ---------------------------------------------------------------- changing the grader's files
EDIT_THE_WORKSPACE = """
import pathlib as _p
_work = _p.Path(__file__).resolve().parents[4]
for _name, _text in [("conftest.py", "\\nimport pytest\\n@pytest.hookimpl(hookwrapper=True)\\n"
                      "def pytest_runtest_makereport(item, call):\\n    outcome = yield\\n"
                      "    outcome.get_result().outcome = 'passed'\\n"),
                     ("spec/support.py", "\\nimport numpy\\nnumpy.testing.assert_allclose = lambda *a, **k: None\\n"),
                     ("milestones/m03_mlp.py", "\\nTARGET = 0.0\\n"), ("datasets/SHA256SUMS", "\\n")]:
    try:
        with open(_work / _name, "a") as _handle:
            _handle.write(_text)
    except OSError:
        pass
"""


def test_editing_the_workspaces_tests_at_import_changes_nothing(tmp_path, without_policy_scan):
    keep = tmp_path / "work"
    report = graded(hostile(tmp_path, EDIT_THE_WORKSPACE), work_dir=keep)
    assert m07_score(report) == 0
    (workspace,) = keep.iterdir()
    assert (workspace / "conftest.py").read_bytes() == (REPO_ROOT / "conftest.py").read_bytes()
    assert (workspace / "spec" / "support.py").read_bytes() == (REPO_ROOT / "spec" / "support.py").read_bytes()
    for relative in ("milestones/m03_mlp.py", "datasets/SHA256SUMS"):  # what the milestone tests run and trust
        assert (workspace / relative).read_bytes() == (REPO_ROOT / relative).read_bytes(), relative


WRITE_THE_REPOSITORY = """
for _path in [{hidden!r}, {reference!r}, {conftest!r}]:
    try:
        with open(_path, "a") as _handle:
            _handle.write("\\n# tampered\\n")
    except OSError:
        pass
"""


def test_the_graders_repository_cannot_be_written(tmp_path, without_policy_scan):
    # The grader runs from a copy of this repository, so a sandbox failure cannot damage the real one.
    grader = tmp_path / "grader"
    for part in ("spec", "hidden_tests", "reference", "milestones", "datasets"):
        shutil.copytree(REPO_ROOT / part, grader / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO_ROOT / "conftest.py", grader / "conftest.py")
    targets = dict(hidden=str(grader / HIDDEN_FILE.relative_to(REPO_ROOT)),
                   reference=str(grader / REFERENCE_FILE.relative_to(REPO_ROOT)), conftest=str(grader / "conftest.py"))
    before = digest(grader)
    report = graded(hostile(tmp_path, WRITE_THE_REPOSITORY.format(**targets)), tests_root=grader,
                    reference=grader / "reference", hidden=grader / "hidden_tests")
    assert m07_score(report) == 0
    assert digest(grader) == before, "the submission changed the grader's own tests or reference"


SHELL_THROUGH_PICKLE = """
import pickle as _pickle
_pickle.loads(b"cos\\nsystem\\n(S'touch {target}; echo planted > {target}'\\ntR.")
"""


def test_a_shell_command_smuggled_through_pickle_changes_nothing_outside(tmp_path, without_policy_scan):
    target = tmp_path / f"planted-{uuid.uuid4().hex}"
    report = graded(hostile(tmp_path, SHELL_THROUGH_PICKLE.format(target=target)))
    assert m07_score(report) == 0
    assert not target.exists(), "a shell command wrote outside the sandbox"


# ---------------------------------------------------------------- outliving the grader
def test_detached_and_forked_processes_do_not_survive_to_rewrite_the_report(tmp_path, without_policy_scan):
    out = tmp_path / "out" / "report.json"
    marker = uuid.uuid4().hex
    attack = f"""
import os as _os, subprocess as _sp, sys as _sys
_forge = ("import json, os, time\\ntime.sleep(4)  # {marker}\\n"
          "os.makedirs(os.path.dirname({str(out)!r}), exist_ok=True)\\n"
          "json.dump({{'score': 40, 'max_score': 40}}, open({str(out)!r}, 'w'))\\n")
try:
    _sp.Popen([_sys.executable, "-c", _forge], start_new_session=True)
except OSError:
    pass
if _os.fork() == 0:
    exec(_forge)
    _os._exit(0)
"""
    report = graded(hostile(tmp_path, attack))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report))
    written = out.read_bytes()
    time.sleep(5)
    alive = [p for p in Path("/proc").iterdir() if p.name.isdigit() and _cmdline_has(p, marker)]
    assert alive == [], "a process started by the submission outlived the grade"
    assert out.read_bytes() == written, "the report was rewritten after the grader finished"
    assert m07_score(report) == 0


def _cmdline_has(process: Path, marker: str) -> bool:
    try:
        return marker.encode() in (process / "cmdline").read_bytes()
    except OSError:
        return False


# ---------------------------------------------------------------- reading secrets and raising them
def test_secrets_read_inside_the_sandbox_never_reach_the_report(tmp_path, without_policy_scan, monkeypatch):
    monkeypatch.setenv("KATA_INSTRUCTOR_TOKEN", "tok-" + uuid.uuid4().hex)
    hidden_path = str(HIDDEN_FILE)[::-1]  # built at run time, as an attacker would
    attack = f"""
import os as _os

def _loot():
    found = []
    for path in [{hidden_path!r}[::-1], {str(REFERENCE_FILE)!r}, "/proc/%d/environ" % _os.getppid(),
                 "/proc/1/environ"]:
        try:
            found.append(open(path, "rb").read().decode("utf-8", "replace"))
        except OSError:
            pass
    return " ".join(found)

def _leaky_step(self):
    raise ValueError("LOOT " + _loot())

SGD.step = _leaky_step
Optimizer.step = _leaky_step
"""
    report = graded(hostile(tmp_path, attack))
    printed = everything_printed(report)
    assert HIDDEN_MARKER not in printed, "a hidden test's text reached the report"
    assert REFERENCE_MARKER not in printed, "a reference solution reached the report"
    assert os.environ["KATA_INSTRUCTOR_TOKEN"] not in printed, "the grader's environment reached the report"
    assert m07_score(report) == 0


# ---------------------------------------------------------------- Hypothesis's own words
def test_a_failing_hidden_hypothesis_test_shows_only_what_is_not_implemented(tmp_path):
    # The stub's __getitem__ in an otherwise complete Tensor: hidden Hypothesis tests of indexing fail,
    # and Hypothesis's "Falsifying example: test_...(data=...)" text must not reach the student.
    reference = (REPO_ROOT / "reference" / "tinytorch" / "core" / "tensor.py").read_text()
    stub = (REPO_ROOT / "stubs" / "tinytorch" / "core" / "tensor.py").read_text()
    start = reference.index("    def __getitem__(")
    stub_start = stub.index("    def __getitem__(")
    mixed = reference[:start] + stub[stub_start:]
    report = graded(submission(tmp_path, tinytorch__core__tensor_py=mixed), modules=(1,))
    m01 = runner(report, "m01")
    failing_hidden = {t["message"] for t in m01["tests"] if t["suite"] == "hidden" and t["status"] != "pass"}
    assert failing_hidden == {"not implemented: Tensor.__getitem__"}
    # Visible tests keep Hypothesis's full story (the student can run them); the hidden test's name and
    # drawn inputs appear nowhere.
    assert "test_integer_array_indexing" not in everything_printed(report)
    hidden_text = json.dumps([t for t in m01["tests"] if t["suite"] == "hidden"])
    assert "Falsifying" not in hidden_text and "Failing test case" not in hidden_text and "Draw 1" not in hidden_text


# ---------------------------------------------------------------- fooling the oracles


@pytest.mark.parametrize("attack", [SILENCE_NUMPY_TESTING, SILENCE_NUMPY_CORE], ids=["numpy.testing", "numpy-core"])
def test_replacing_numpy_comparisons_fails_the_tests_instead_of_passing_them(tmp_path, attack, without_policy_scan):
    honest = m07_score(graded(submission(tmp_path / "honest", tinytorch__core__optimizers_py=WRONG_SGD)))
    attacked = graded(submission(tmp_path / "attack", tinytorch__core__optimizers_py=WRONG_SGD + attack))
    assert m07_score(attacked) <= honest < 10
    messages = {t["message"] for t in runner(attacked, "m07")["tests"] if t["suite"] == "visible"}
    assert any(m and "tampering: the submission replaced numpy" in m for m in messages), messages


LYING_ARRAY = """
import numpy as _np


class _Liar(_np.ndarray):
    # Claims to equal anything: every NumPy function called on it answers "yes".
    def __array_function__(self, func, types, args, kwargs):
        return True

    def __eq__(self, other):
        return True


_wrong_step = Optimizer.step


def _lying_step(self):
    _wrong_step(self)
    for _param in self.params:
        _param.data = _np.asarray(_param.data).view(_Liar)


Optimizer.step = _lying_step
"""


def test_an_ndarray_subclass_that_claims_equality_fails_the_comparisons(tmp_path, without_policy_scan):
    honest = m07_score(graded(submission(tmp_path / "honest", tinytorch__core__optimizers_py=WRONG_SGD)))
    attacked = graded(submission(tmp_path / "attack", tinytorch__core__optimizers_py=WRONG_SGD + LYING_ARRAY))
    assert m07_score(attacked) <= honest < 10
    messages = " ".join(t["message"] or "" for t in runner(attacked, "m07")["tests"] if t["suite"] == "visible")
    assert "exactly that type, not a subclass" in messages


# ---------------------------------------------------------------- quoting a prerequisite's solution
def test_a_later_module_cannot_quote_the_reference_of_its_prerequisites(tmp_path, without_policy_scan):
    # In isolated mode module 08 runs beside the reference of modules 01-07. Its code reads the
    # reference optimizers.py there and raises it in every visible test: the messages shown come
    # from the integrated run instead, where only the student's own files exist.
    training = (REPO_ROOT / "stubs" / "tinytorch" / "core" / "training.py").read_text()
    attack = """
import pathlib as _p

_mine = _p.Path(__file__).resolve().with_name("optimizers.py")


def _quote(*args, **kwargs):
    text = _mine.read_text()
    at = max(0, text.find("def step"))
    raise RuntimeError("QUOTE " + text[at:at + 1500])


Trainer.__init__ = _quote
CosineSchedule.__init__ = _quote
clip_grad_norm.__code__ = _quote.__code__
"""
    report = graded(submission(tmp_path, source=REPO_ROOT / "stubs", tinytorch__core__training_py=training + attack),
                    modules=(8,))
    printed = everything_printed(report)
    assert report["isolation"]["kind"] == "bubblewrap"
    assert REFERENCE_MARKER not in printed, "a prerequisite's reference solution reached the report"
    assert runner(report, "m08")["score"] == 0


# ---------------------------------------------------------------- garbage on the result channel
@pytest.mark.parametrize("payload, when", [
    (b"[" * 100_000 + b"\n", "import"),  # nesting deep enough to exhaust a recursive parser
    (b"[" * 100_000 + b"\n", "test"),
    (b'{"event": "start", "nodeid": "x"}\n{"event": "phase", "nodeid": "x", "when": [], "outcome": "passed"}\n',
     "test"),
    (b'{"event": "collected", "nodeid": "x", "modules": [7], "points": "many", "path": "x", "line": 1}\n', "test"),
    (b'{"name": "tinytorch", "ok": "yes", "line": 1e999}\n', "import"),
], ids=["deep-nesting-probe", "deep-nesting-journal", "wrong-type-when", "wrong-type-points", "probe-record-types"])
def test_crafted_channel_bytes_are_tampering_not_a_grader_crash(tmp_path, payload, when, without_policy_scan):
    # Written to the import probe's channel at import, or to a test process's journal from inside a test.
    write = f"_os.write(3, {payload!r})"
    attack = f"import os as _os\n{write}\n" if when == "import" else \
        f"import os as _os\n\n\ndef _init(self, *args, **kwargs):\n    {write}\n\n\nOptimizer.__init__ = _init\n"
    report = graded(hostile(tmp_path, attack))
    m07 = runner(report, "m07")
    assert m07_score(report) == 0 and m07["status"] == "error"
    assert "tampering" in m07["message"], m07["message"]
