"""`kata lint` on fixture trees: each planted violation is found with its rule id and line, and
clean trees (prerequisite imports, earlier concepts, pragma'd previews) are not flagged."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grading import REPO_ROOT
from grading.authoring import lint

MANIFEST = '''
package = "tinytorch"
tiers = ["foundation"]
planned = []
[patch_hooks]
2 = ["enable_autograd"]
''' + "".join(f'''
[[module]]
number = {n}
slug = "{slug}"
title = "{slug}"
tier = "foundation"
track = "t"
path = "tinytorch.core.{path}"
requires = {req}
points = 10
systems = "x"
concepts = ["{term}"]
''' for n, slug, path, req, term in [
    (1, "tensor", "tensor", [], "tensor"),
    (2, "autograd", "autograd", [1], "gradient"),
    (3, "vision", "spatial", [2], "convolution"),
    (4, "language", "attention", [2], "attention"),
])

GOOD_FUNCTION = '''
def {name}(x):
    """Do the thing.

    Args:
        x (Tensor, shape (n,)): input.

    Returns:
        Tensor: the result.

    Example:
        >>> {name}(1)
    """
    ### BEGIN SOLUTION
    return x
    ### END SOLUTION
'''

CLEAN_TREE = {
    "grading/curriculum.toml": MANIFEST,
    "reference/tinytorch/__init__.py": "from tinytorch.core.tensor import Tensor\nfrom tinytorch.core.autograd import enable_autograd\n"
                                       "from tinytorch.core.spatial import conv\nfrom tinytorch.core.attention import attend\n",
    "reference/tinytorch/core/__init__.py": "",
    "reference/tinytorch/core/tensor.py": '"""A tensor."""\n\n\nclass Tensor:\n    """A tensor."""\n',
    "reference/tinytorch/core/autograd.py": '"""Gradient machinery for the tensor."""\nfrom tinytorch.core.tensor import Tensor\n\n\n'
                                            'def enable_autograd():\n    """Patch Tensor.\n\n    Example:\n        >>> enable_autograd()\n    """\n'
                                            '    ### BEGIN SOLUTION\n    Tensor.grad = None\n    ### END SOLUTION\n',
    "reference/tinytorch/core/spatial.py": '"""Convolution on a tensor (uses the gradient of module 2)."""\nfrom tinytorch.core.autograd import enable_autograd\n'
                                           + GOOD_FUNCTION.format(name="conv"),
    "reference/tinytorch/core/attention.py": '"""Attention."""\nfrom tinytorch import enable_autograd\n' + GOOD_FUNCTION.format(name="attend"),
    "spec/test_01_tensor.py": "import pytest\nfrom tinytorch.core.tensor import Tensor\npytestmark = pytest.mark.module(1)\n",
    "spec/test_02_autograd.py": "import pytest\nfrom tinytorch.core.tensor import Tensor\npytestmark = pytest.mark.module(2)\n",
    "spec/test_03_vision.py": "import pytest\nfrom tinytorch.core.spatial import conv\npytestmark = pytest.mark.module(3)\n",
    "spec/test_04_language.py": "import pytest\nimport tinytorch.core.attention\npytestmark = pytest.mark.module(4)\n"
                                "# The attention scores are made of tensors and their gradient.\n",
    "spec/support.py": "# helpers: attention, convolution, gradient -- support files belong to no module\n",
    "hidden_tests/unit/test_01_tensor_hidden.py": "import pytest\npytestmark = pytest.mark.module(1)\n",
    "hidden_tests/unit/test_02_autograd_hidden.py": "import pytest\npytestmark = pytest.mark.module(2)\n",
    "hidden_tests/unit/test_03_vision_hidden.py": "import pytest\npytestmark = pytest.mark.module(3)\n",
    "hidden_tests/unit/test_04_language_hidden.py": "import pytest\npytestmark = pytest.mark.module(4)\n",
    "hidden_tests/integration/test_pipeline.py": "import pytest\nfrom tinytorch.core.spatial import conv\n"
                                                 "from tinytorch.core.tensor import Tensor\npytestmark = pytest.mark.module(1, 3)\n",
    "milestones/m01_demo.py": "REQUIRES = (1, 2)\nfrom tinytorch.core.autograd import enable_autograd\n",
}


def build(root: Path, changes: dict[str, str | None] = {}) -> Path:
    files = {**CLEAN_TREE, **changes}
    for relative, text in files.items():
        if text is None:
            continue
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text) if relative.endswith(".py") else text)
    from grading.authoring import curriculum, stubgen
    course = curriculum.parse(files["grading/curriculum.toml"])
    if changes.get("stubs/tinytorch/core/spatial.py") is None and "stubs/tinytorch/core/spatial.py" not in changes:
        stubgen.write_tree(root / "reference", root / "stubs", course)
    for relative, text in changes.items():
        if relative.startswith("stubs/"):
            target = root / relative
            if text is None:
                target.unlink()
            else:
                target.write_text(text)
    return root


def found(root: Path, select=None) -> list[tuple[str, int, str]]:
    result = lint.run(root, select) if select else lint.run(root)
    return [(v.path, v.line, v.rule) for v in result.violations]


def test_clean_tree_has_no_violations(tmp_path):
    assert found(build(tmp_path)) == []


def test_clean_tree_lists_pragmas(tmp_path):
    root = build(tmp_path, {"spec/test_01_tensor.py":
                            "import pytest\npytestmark = pytest.mark.module(1)\n"
                            "# later you will take the gradient of this  # lint: allow gradient -- a preview of module 2\n"})
    result = lint.run(root)
    assert result.violations == []
    assert [(p.path, p.line, p.term) for p in result.pragmas] == [("spec/test_01_tensor.py", 3, "gradient")]


@pytest.mark.parametrize("relative,source,line", [
    ("reference/tinytorch/core/tensor.py", "from tinytorch.core.autograd import enable_autograd\n", 1),
    ("reference/tinytorch/core/tensor.py", "x = 1\nfrom . import autograd\n", 2),
    ("reference/tinytorch/core/tensor.py", "def f():\n    import tinytorch.core.spatial\n", 2),
    ("reference/tinytorch/core/tensor.py", "try:\n    from tinytorch.core.autograd import x\nexcept ImportError:\n    x = None\n", 2),
    ("reference/tinytorch/core/tensor.py", "import importlib\n\nm = importlib.import_module('tinytorch.core.autograd')\n", 3),
    ("reference/tinytorch/core/tensor.py", "m = __import__('tinytorch.core.autograd')\n", 1),
    ("reference/tinytorch/core/tensor.py", "from tinytorch import conv\n", 1),
    ("reference/tinytorch/core/attention.py", "from tinytorch.core.spatial import conv\n", 1),
    ("spec/test_01_tensor.py", "import pytest\npytestmark = pytest.mark.module(1)\nfrom tinytorch import enable_autograd\n", 3),
])
def test_forward_imports_in_every_form(tmp_path, relative, source, line):
    violations = found(build(tmp_path, {relative: source}), ("imports",))
    assert (relative, line, "import-forward") in violations, violations


def test_integration_test_must_declare_every_module_it_imports(tmp_path):
    source = "import pytest\nfrom tinytorch.core.spatial import conv\npytestmark = pytest.mark.module(1)\n"
    root = build(tmp_path, {"hidden_tests/integration/test_pipeline.py": source})
    assert found(root, ("imports",)) == [("hidden_tests/integration/test_pipeline.py", 2, "import-undeclared")]


def test_milestone_must_declare_every_module_it_imports(tmp_path):
    root = build(tmp_path, {"milestones/m01_demo.py": "REQUIRES = (1,)\nfrom tinytorch.core.autograd import enable_autograd\n"})
    assert found(root, ("imports",)) == [("milestones/m01_demo.py", 2, "import-undeclared")]


def test_test_file_without_module_is_a_violation(tmp_path):
    root = build(tmp_path, {"hidden_tests/unit/test_02_autograd_hidden.py": "def test_x():\n    pass\n"})
    assert found(root, ("imports",)) == [("hidden_tests/unit/test_02_autograd_hidden.py", 1, "test-no-module")]


@pytest.mark.parametrize("relative,source,line", [
    ("reference/tinytorch/core/tensor.py", '"""A tensor."""\n\n\ndef f():\n    """Stores the gradient."""\n', 5),
    ("reference/tinytorch/core/tensor.py", "def f():\n    raise ValueError('convolution needs 4-d input')\n", 2),
    ("reference/tinytorch/core/tensor.py", "x = 1  # attention: later\n", 1),
    ("spec/test_01_tensor.py", "import pytest\npytestmark = pytest.mark.module(1)\n\n\ndef test_x():\n    assert 1, 'wrong Gradient'\n", 6),
    ("reference/tinytorch/core/attention.py", '"""Uses a convolution."""\n', 1),
])
def test_concept_leaks_are_found_on_their_line(tmp_path, relative, source, line):
    violations = found(build(tmp_path, {relative: source}), ("concepts",))
    assert (relative, line, "concept-leak") in violations, violations


def test_multiline_docstring_leak_points_at_the_right_line(tmp_path):
    source = '"""A tensor.\n\nNothing here.\nBut the gradient is here.\n"""\n'
    assert found(build(tmp_path, {"reference/tinytorch/core/tensor.py": source}), ("concepts",)) == [
        ("reference/tinytorch/core/tensor.py", 4, "concept-leak"), ("stubs/tinytorch/core/tensor.py", 5, "concept-leak")]


def test_pragma_without_reason_is_a_violation(tmp_path):
    source = "import pytest\npytestmark = pytest.mark.module(1)\n# the gradient  # lint: allow gradient\n"
    assert found(build(tmp_path, {"spec/test_01_tensor.py": source}), ("concepts",)) == [
        ("spec/test_01_tensor.py", 3, "pragma-no-reason")]


def test_patch_outside_sanctioned_hook_is_a_violation(tmp_path):
    spatial = '"""Space."""\nfrom tinytorch.core.tensor import Tensor\n' + GOOD_FUNCTION.format(name="conv") + \
              "\n\ndef speed_up():\n    Tensor.fast = True\n    setattr(Tensor, 'faster', True)\n"
    violations = found(build(tmp_path, {"reference/tinytorch/core/spatial.py": spatial}), ("patches",))
    assert ("reference/tinytorch/core/spatial.py", 22, "patch-foreign") in violations
    assert ("reference/tinytorch/core/spatial.py", 23, "patch-foreign") in violations
    assert all(v[0].endswith("spatial.py") for v in violations), "the sanctioned enable_autograd hook must not be flagged"


def test_a_test_file_that_makes_submission_objects_when_imported_is_a_violation(tmp_path):
    source = textwrap.dedent("""\
        import pytest
        import tinytorch.core.tensor as tt
        from tinytorch.core.tensor import Tensor
        pytestmark = pytest.mark.module(1)
        ONE = Tensor([1.0])


        @pytest.mark.parametrize("x", [Tensor([2.0]), lambda: Tensor([3.0]), Tensor])
        def test_a(x, y=tt.Tensor([4.0])):
            made_when_run = Tensor([5.0])


        class TestB:
            TWO = Tensor([6.0])
        """)
    assert found(build(tmp_path, {"spec/test_01_tensor.py": source}), ("tests",)) == [
        ("spec/test_01_tensor.py", 5, "test-object-at-import"),  # module level
        ("spec/test_01_tensor.py", 8, "test-object-at-import"),  # a parametrize list (the lambda and class are fine)
        ("spec/test_01_tensor.py", 9, "test-object-at-import"),  # a default argument
        ("spec/test_01_tensor.py", 14, "test-object-at-import"),  # a class body
    ]


def test_objects_made_inside_tests_and_fixtures_are_fine(tmp_path):
    source = ("import pytest\nfrom tinytorch.core.tensor import Tensor\npytestmark = pytest.mark.module(1)\n\n\n"
              "@pytest.fixture\ndef one():\n    return Tensor([1.0])\n\n\n"
              "@pytest.mark.parametrize('make', [lambda: Tensor([2.0])])\ndef test_a(make, one):\n    make()\n")
    assert found(build(tmp_path, {"spec/test_01_tensor.py": source}), ("tests",)) == []


@pytest.mark.parametrize("docstring,rule", [
    ('"""Do the thing."""', "docstring-args"),
    ('"""Do.\n\n    Args:\n        x (Tensor): input.\n\n    Example:\n        >>> conv(1)\n    """', "docstring-returns"),
    ('"""Do.\n\n    Args:\n        x: input without a type.\n\n    Returns:\n        int: y.\n\n    Example:\n        >>> conv(1)\n    """', "docstring-args"),
    ('"""Do.\n\n    Args:\n        x (Tensor): input.\n\n    Returns:\n        int: y.\n    """', "docstring-example"),
])
def test_docstring_contract_gaps(tmp_path, docstring, rule):
    spatial = f'"""Space."""\n\n\ndef conv(x):\n    {docstring}\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n'
    violations = found(build(tmp_path, {"reference/tinytorch/core/spatial.py": spatial}), ("docstrings",))
    assert ("stubs/tinytorch/core/spatial.py", 5, rule) in violations, violations


def test_missing_raises_and_missing_docstring(tmp_path):
    spatial = ('"""Space."""\n\n\ndef conv(x):\n    """Do.\n\n    Args:\n        x (int): input.\n\n    Example:\n        >>> conv(1)\n    """\n'
               "    ### BEGIN SOLUTION\n    raise ValueError('bad')\n    ### END SOLUTION\n\n\ndef bare(y):\n    return y\n")
    violations = found(build(tmp_path, {"reference/tinytorch/core/spatial.py": spatial}), ("docstrings",))
    assert ("stubs/tinytorch/core/spatial.py", 5, "docstring-raises") in violations
    assert ("stubs/tinytorch/core/spatial.py", 17, "docstring-missing") in violations


def test_region_that_swallowed_a_signature(tmp_path):
    root = build(tmp_path)
    # As if a solution region had enclosed `def conv`: the stub no longer defines it.
    stub = root / "stubs/tinytorch/core/spatial.py"
    stub.write_text(stub.read_text().replace("def conv(x):", "def _conv_gone(x):"))
    assert ("stubs/tinytorch/core/spatial.py", 1, "docstring-swallowed") in found(root, ("docstrings",))


def test_manifest_problems(tmp_path):
    root = build(tmp_path, {"spec/test_03_vision.py": None})
    (root / "spec/test_03_vision.py").unlink(missing_ok=True)
    assert ("grading/curriculum.toml", 1, "manifest-missing-file") in found(root, ("manifest",))
    planned = MANIFEST.replace("planned = []", "planned = [4]")
    root2 = build(tmp_path / "b", {"grading/curriculum.toml": planned})
    assert ("grading/curriculum.toml", 1, "manifest-planned-exists") in found(root2, ("manifest",))
    cyclic = MANIFEST.replace("requires = []", "requires = [4]")
    root3 = build(tmp_path / "c", {"grading/curriculum.toml": MANIFEST})
    (root3 / "grading/curriculum.toml").write_text(cyclic)
    assert found(root3) == [("grading/curriculum.toml", 1, "manifest-invalid")]
    root4 = build(tmp_path / "d", {"milestones/m01_demo.py": "REQUIRES = (1, 9)\n"})
    assert ("milestones/m01_demo.py", 1, "manifest-unknown-module") in found(root4, ("manifest",))


def kata(*args):
    return subprocess.run([sys.executable, "-m", "grading", "lint", *args], capture_output=True, text=True)


def test_cli_formats_and_exit_codes(tmp_path):
    clean = build(tmp_path / "clean")
    assert kata("--root", str(clean)).returncode == 0
    dirty = build(tmp_path / "dirty", {"reference/tinytorch/core/tensor.py": "from tinytorch.core.autograd import x\n"})
    text = kata("--root", str(dirty))
    assert text.returncode == 1
    assert "reference/tinytorch/core/tensor.py:1: import-forward: imports tinytorch.core.autograd.x" in text.stdout
    assert "[allowed modules: 1]" in text.stdout
    payload = json.loads(kata("--root", str(dirty), "--format", "json").stdout)
    assert {v["rule"] for v in payload["violations"]} == {"import-forward"}
    github = kata("--root", str(dirty), "--format", "github").stdout
    assert "::error file=reference/tinytorch/core/tensor.py,line=1,title=import-forward::" in github
    assert kata("--root", str(dirty), "--select", "concepts").returncode == 0
    assert kata("--root", str(dirty), "--select", "nonsense").returncode == 2
    assert "prerequisite closure" in kata("--explain", "import-forward").stdout
    assert kata("--explain", "no-such-rule").returncode == 2


def test_repository_is_lint_clean():
    result = lint.run(REPO_ROOT)
    assert result.violations == [], "\n".join(f"{v.path}:{v.line}: {v.rule}: {v.message}" for v in result.violations)


# ---------------------------------------------------------------- the grader's own layering
GRADER_TABLE = '''
[grader]
entry = "cli"
[grader.packages]
cli = ["engine"]
engine = ["sandbox"]
sandbox = []
'''

LAYERED_GRADER = {
    "grading/curriculum.toml": MANIFEST + GRADER_TABLE,
    "grading/__init__.py": "from pathlib import Path\nREPO_ROOT = Path(__file__).parent.parent\n",
    "grading/__main__.py": "from grading.cli.kata import main\n",
    "grading/cli/__init__.py": '"""The command line."""\n',
    "grading/cli/kata.py": "from grading import REPO_ROOT\nfrom grading.engine import grader\nfrom grading.sandbox import box\n",
    "grading/engine/__init__.py": "",
    "grading/engine/grader.py": "from grading.sandbox import box\nfrom . import runner\n",
    "grading/engine/runner.py": "from grading import REPO_ROOT\n",
    "grading/sandbox/__init__.py": "",
    "grading/sandbox/box.py": "import os\n",
}


def test_a_grader_that_keeps_its_layers_is_clean(tmp_path):
    assert found(build(tmp_path, LAYERED_GRADER)) == []


@pytest.mark.parametrize("relative, source, line", [
    ("grading/sandbox/box.py", "import os\nfrom grading.engine.grader import grade\n", 2),
    ("grading/sandbox/box.py", "import os\n\n\ndef later():\n    import grading.cli.kata\n", 5),
    ("grading/sandbox/box.py", "try:\n    from grading.engine import runner\nexcept ImportError:\n    pass\n", 2),
    ("grading/sandbox/box.py", "import importlib\nimportlib.import_module('grading.engine.runner')\n", 2),
    ("grading/engine/runner.py", "from ..cli import kata\n", 1),
    ("grading/engine/__init__.py", "from grading import cli\n", 1),
    ("grading/__init__.py", "from grading.engine import grader\n", 1),
    ("grading/__main__.py", "from grading.sandbox import box\nfrom grading.engine import grader\n", None),
])
def test_a_planted_back_import_in_the_grader_is_caught_on_its_line(tmp_path, relative, source, line):
    root = build(tmp_path, {**LAYERED_GRADER, relative: source})
    expected = [] if line is None else [(relative, line, "layer-back-import")]
    assert found(root, ("layering",)) == expected


def test_the_back_import_message_names_the_target_and_what_is_allowed(tmp_path):
    root = build(tmp_path, {**LAYERED_GRADER, "grading/engine/runner.py": "from grading.cli import kata\n"})
    [violation] = lint.run(root, ("layering",)).violations
    assert violation.message == "imports grading.cli.kata (package cli): grading/engine may import only sandbox"
    root2 = build(tmp_path / "b", {**LAYERED_GRADER, "grading/sandbox/box.py": "import grading.engine\n"})
    [violation] = lint.run(root2, ("layering",)).violations
    assert violation.message == "imports grading.engine (package engine): grading/sandbox may import no other grader package"


def test_a_grader_folder_missing_from_the_table_is_a_violation(tmp_path):
    root = build(tmp_path, {**LAYERED_GRADER, "grading/extras/helpers.py": "x = 1\n"})
    assert found(root, ("layering",)) == [("grading/extras/helpers.py", 1, "layer-undeclared")]


def test_a_module_at_the_top_of_the_grader_is_a_violation(tmp_path):
    root = build(tmp_path, {**LAYERED_GRADER, "grading/util.py": "x = 1\n"})
    assert found(root, ("layering",)) == [("grading/util.py", 1, "layer-undeclared")]


def test_a_grader_file_that_is_not_utf8_is_reported_not_a_crash(tmp_path):
    root = build(tmp_path, LAYERED_GRADER)
    (root / "grading" / "engine" / "runner.py").write_bytes(b"x = '\xff'\n")
    assert found(root, ("layering",)) == [("grading/engine/runner.py", 1, "layer-unparsable")]


def test_a_grader_file_that_does_not_parse_is_reported_not_skipped(tmp_path):
    root = build(tmp_path, {**LAYERED_GRADER, "grading/engine/runner.py": "def broken(:\n"})
    assert found(root, ("layering",)) == [("grading/engine/runner.py", 1, "layer-unparsable")]


def test_without_an_entry_package_the_main_module_may_import_no_grader_package(tmp_path):
    root = build(tmp_path, {**LAYERED_GRADER, "grading/curriculum.toml": MANIFEST + GRADER_TABLE.replace('entry = "cli"\n', "")})
    [violation] = lint.run(root, ("layering",)).violations
    assert (violation.path, violation.line, violation.rule) == ("grading/__main__.py", 1, "layer-back-import")
    assert violation.message == ("imports grading.cli.kata.main (package cli): grading/__main__.py may import no other "
                                 "grader package")


@pytest.mark.parametrize("table, words", [
    ('[grader.packages]\ncli = ["engine"]\nengine = ["cli"]\n', "cycle"),
    ('[grader.packages]\ncli = ["engine"]\n', "not packages listed there"),
    ('[grader]\nentry = "main"\n[grader.packages]\ncli = []\n', "entry 'main'"),
    ('[grader]\nlayers = 1\n', "unknown key"),
    ('[grader]\nentry = ["cli"]\n[grader.packages]\ncli = []\n', "entry must be a package name"),
    ('grader = "cli"\n', "must be a table"),
])
def test_a_malformed_grader_table_is_a_manifest_error(tmp_path, table, words):
    root = build(tmp_path)
    # A top-level key goes before the [[module]] tables; a table after them.
    (root / "grading" / "curriculum.toml").write_text(table + MANIFEST if table.startswith("grader =") else MANIFEST + table)
    [violation] = lint.run(root).violations
    assert (violation.path, violation.rule) == ("grading/curriculum.toml", "manifest-invalid") and words in violation.message


def test_cli_reports_a_back_import_with_file_and_line_and_fails(tmp_path):
    root = build(tmp_path, {**LAYERED_GRADER, "grading/sandbox/box.py": "import os\nfrom grading.engine import grader\n"})
    done = kata("--root", str(root))
    assert done.returncode == 1
    assert ("grading/sandbox/box.py:2: layer-back-import: imports grading.engine.grader (package engine): "
            "grading/sandbox may import no other grader package") in done.stdout
    assert "back-import ties a lower layer" in kata("--explain", "layer-back-import").stdout
