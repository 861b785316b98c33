"""The grader's AST policy scan (`grading.engine.policy.scan`) on fixture submissions written into tmp_path:
each planted violation is found with its rule and line, the clean reference and stubs give nothing,
and bad files (syntax errors, symlinks, binary files, odd encodings) never make the scan raise."""
import os
import re
import textwrap
from pathlib import Path

import pytest

from grading import REPO_ROOT
from grading.authoring.curriculum import ManifestError, load, parse
from grading.engine.policy import Policy, PolicyViolation, scan

CURRICULUM = load()
TENSOR = "tinytorch/core/tensor.py"


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content), encoding="utf-8")
    return root


def found(tmp_path: Path, source: str | bytes, relative: str = TENSOR) -> list[tuple[int, str]]:
    """(line, rule) of every violation in a submission made of one file."""
    write(tmp_path, {relative: source})
    return [(v.line, v.rule) for v in scan(tmp_path, CURRICULUM)]


# ---------------------------------------------------------------------------------- clean trees
@pytest.mark.parametrize("tree", ["reference", "stubs"])
def test_reference_and_stubs_are_clean(tree):
    assert (REPO_ROOT / tree / "tinytorch" / "core" / "tensor.py").is_file()
    assert scan(REPO_ROOT / tree, CURRICULUM) == []


def test_ordinary_numpy_code_is_clean(tmp_path):
    source = '''
        """Module docstring may say pytest, spec/ and hidden_tests freely."""
        import math
        import numpy as np
        from tinytorch.core.tensor import Tensor
        from .layers import Module
        import os.path
        import sys
        import re

        class Model(Module):
            """Docstrings mention conftest.py and report.json."""
            def eval(self):
                return self

            def run(self, split="test"):
                self.model.eval()
                pattern = re.compile("[a-z]+")
                print("specific tests passed", file=sys.stderr)
                sys.stdout.write("ok")
                nt = 3
                return os.path.join("data", f"{split}.npz"), getattr(self, "weight", None), vars(self), nt
        '''
    assert found(tmp_path, source) == []


# ---------------------------------------------------------------------------------- forbidden-import
@pytest.mark.parametrize("source, line", [
    ("import torch\n", 1),
    ("from torch import nn\n", 1),
    ("import torch.nn.functional\n", 1),
    ("from scipy.special import expit\n", 1),
    ("import numpy as np\nimport sklearn as sk\n", 2),
    ("def f():\n    import subprocess\n    return subprocess\n", 2),
    ("try:\n    import jax\nexcept ImportError:\n    jax = None\n", 2),
    ("if True:\n    from _pytest import fixtures\n", 2),
    ("import os, hidden_tests\n", 1),
    ("class C:\n    def m(self):\n        from grading.curriculum import load\n", 3),
], ids=["plain", "from", "dotted", "from-dotted", "aliased", "in-function", "in-try", "in-if",
        "second-of-two", "in-method"])
def test_forbidden_import_forms(tmp_path, source, line):
    assert (line, "forbidden-import") in found(tmp_path, source)


def test_forbidden_import_message_names_module_and_reason(tmp_path):
    write(tmp_path, {TENSOR: "import torch\n"})
    [violation] = scan(tmp_path, CURRICULUM)
    assert violation == PolicyViolation(TENSOR, 1, "forbidden-import", violation.message, 1)
    assert "'torch'" in violation.message and "NumPy" in violation.message and "remove" in violation.message


def test_relative_imports_inside_the_package_are_allowed(tmp_path):
    assert found(tmp_path, "from . import spec\nfrom .grading import x\nfrom ..core import tensor\n") == []


def test_forbidden_imports_come_from_the_manifest(tmp_path):
    manifest = (REPO_ROOT / "grading" / "curriculum.toml").read_text(encoding="utf-8")
    manifest = manifest.replace('forbidden_imports = [', 'forbidden_imports = ["numpy", ', 1)
    curriculum = parse(manifest)
    write(tmp_path, {TENSOR: "import numpy as np\n"})
    assert [(v.line, v.rule) for v in scan(tmp_path, curriculum)] == [(1, "forbidden-import")]
    assert scan(tmp_path, CURRICULUM) == []


# ---------------------------------------------------------------------------------- dynamic-code
@pytest.mark.parametrize("source", [
    "x = eval('1 + 1')\n",
    "exec('import torch')\n",
    "code = compile('1', 'f', 'eval')\n",
    "m = __import__('torch')\n",
    "run = eval\n",
    "import numpy as np\nnp.__import__('os')\n",
], ids=["eval", "exec", "compile", "__import__", "eval-as-value", "__import__-attribute"])
def test_dynamic_code_by_name(tmp_path, source):
    assert [rule for _, rule in found(tmp_path, source)] == ["dynamic-code"]


def test_binding_a_name_is_not_using_the_builtin_it_shadows(tmp_path):
    assert found(tmp_path, "eval = None\ncompile, exec = 1, 2\n") == []


def test_dynamic_code_as_builtins_attribute(tmp_path):
    # builtins is also a forbidden import; the attribute use is reported on its own line
    assert (3, "dynamic-code") in found(tmp_path, "import builtins\n\nbuiltins.exec('x')\n")


def test_methods_named_eval_or_compile_are_not_dynamic_code(tmp_path):
    source = "import re\nre.compile('a')\nmodel.eval()\nself.net.compile()\n"
    assert found(tmp_path, source) == []


# ---------------------------------------------------------------------------------- builtins-tamper
@pytest.mark.parametrize("source, line", [
    ("__builtins__['len'] = None\n", 1),
    ("x = __builtins__\n", 1),
    ("import numpy as np\nb = np.__builtins__\n", 2),
    ("b = globals()['__builtins__']\n", 1),
    ("import sys\nsys.modules['numpy'] = None\n", 2),
    ("import sys\nm = sys.modules['tinytorch.core.tensor']\n", 2),
    ("import sys\nsys.modules.get('numpy')\n", 2),
    ("from sys import modules\n", 1),
    ("import sys as s\ns.meta_path.insert(0, object())\n", 2),
    ("import sys\nsys.path_hooks.append(None)\n", 2),
    ("import sys\nsys.settrace(lambda *a: None)\n", 2),
    ("import sys\nsys.setprofile(None)\n", 2),
    ("import sys\nsys.excepthook = print\n", 2),
    ("import sys\nsys.stdout = open('x', 'w')\n", 2),
    ("import sys\nsys.stderr = None\n", 2),
    ("import sys\nsys.__stdout__ = None\n", 2),
    ("import sys\nsys.stdout, sys.stderr = a, b\n", 2),
    ("import sys\ndel sys.stdout\n", 2),
    ("import sys\nsetattr(sys, 'stdout', None)\n", 2),
    ("import sys\nsys.stdout.write = print\n", 2),
    ("import sys\nsys.path.insert(0, '/tmp')\n", 2),
    ("import sys\nsys.path[0] = '/tmp'\n", 2),
    ("import sys\nsys.path += ['/tmp']\n", 2),
    ("import contextlib\nwith contextlib.redirect_stdout(None):\n    pass\n", 2),
    ("from sys import *\n", 1),
], ids=["__builtins__-store", "__builtins__-load", "__builtins__-attribute", "__builtins__-string",
        "modules-assign", "modules-read", "modules-method", "from-sys-import-modules", "meta_path-aliased",
        "path_hooks", "settrace", "setprofile", "excepthook", "stdout", "stderr", "__stdout__",
        "stdout-tuple", "stdout-del", "stdout-setattr", "stdout-method-assign", "path-insert",
        "path-item", "path-augassign", "redirect_stdout", "star-import"])
def test_builtins_tamper_forms(tmp_path, source, line):
    assert (line, "builtins-tamper") in found(tmp_path, source)


def test_reading_sys_streams_is_not_tamper(tmp_path):
    source = "import sys\nfrom sys import stdout\nprint(1, file=sys.stdout)\nsys.stderr.write('x')\nstdout.flush()\n"
    assert found(tmp_path, source) == []


# ---------------------------------------------------------------------------------- process-control
@pytest.mark.parametrize("source, line", [
    ("import os\nos._exit(0)\n", 2),
    ("import os\nos.kill(os.getpid(), 9)\n", 2),
    ("import os\nos.killpg(0, 9)\n", 2),
    ("import os\nos.system('ls')\n", 2),
    ("import os\nos.popen('ls')\n", 2),
    ("import os\nos.fork()\n", 2),
    ("import os\nos.forkpty()\n", 2),
    ("import os\nos.execvp('ls', ['ls'])\n", 2),
    ("import os\nos.spawnl(os.P_WAIT, 'ls')\n", 2),
    ("import os\nos.posix_spawnp('ls', ['ls'], {})\n", 2),
    ("import os\nos.abort()\n", 2),
    ("import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))\n", 2),
    ("from os import _exit\n", 1),
    ("from os import _exit as leave\n\nleave(0)\n", 3),
    ("import os as o\no._exit(0)\n", 2),
    ("import posix\nposix._exit(0)\n", 2),
    ("import pathlib\npathlib.os._exit(0)\n", 2),
    ("import os\ngetattr(os, '_' + 'exit')(0)\n", 2),
    ("from os import *\n", 1),
    ("import os\nbye = os._exit\n", 2),
], ids=["_exit", "kill", "killpg", "system", "popen", "fork", "forkpty", "exec*", "spawn*",
        "posix_spawn*", "abort", "setrlimit", "from-import", "from-import-alias-use", "module-alias",
        "posix", "through-other-module", "getattr-literal", "star-import", "as-value"])
def test_process_control_forms(tmp_path, source, line):
    assert (line, "process-control") in found(tmp_path, source)


@pytest.mark.parametrize("source", [
    "import os\nm = os\n",
    "import os\nvars(os)['_exit'](0)\n",
    "import os\nos.__dict__['_exit'](0)\n",
    "import os\nname = '_exit'\ngetattr(os, name)(0)\n",
], ids=["alias-assign", "vars", "__dict__", "getattr-variable"])
def test_guarded_module_used_as_value(tmp_path, source):
    assert "module-as-value" in {rule for _, rule in found(tmp_path, source)}


def test_harmless_os_use_is_clean(tmp_path):
    assert found(tmp_path, "import os\nos.makedirs(os.path.join('a', 'b'), exist_ok=True)\nos.getpid()\n") == []


# ---------------------------------------------------------------------------------- routes seen in attacks
@pytest.mark.parametrize("source, expected", [
    ("import pkgutil\nf = pkgutil.resolve_name('os:system')\n", [(1, "forbidden-import"), (2, "dynamic-code")]),
    ("from pkgutil import resolve_name as find\n\nfind('os:system')\n",
     [(1, "forbidden-import"), (3, "dynamic-code")]),
    ("import unittest.mock as m\nm.pkgutil.resolve_name('os:system')\n", [(2, "dynamic-code")]),
    ("import pydoc\nsystem = pydoc.locate('os.system')\n", [(1, "forbidden-import"), (2, "dynamic-code")]),
    ("from pydoc import locate\nlocate('os.system')\n", [(1, "forbidden-import"), (2, "dynamic-code")]),
    ("import pickle\npickle.loads(data)\n", [(1, "forbidden-import"), (2, "dynamic-code")]),
    ("x = 1\nfrom pickle import load\n", [(2, "forbidden-import")]),
    ("import pickle as p\nclass U(p.Unpickler):\n    pass\n", [(1, "forbidden-import"), (2, "dynamic-code")]),
    ("import numpy as np\nnp.lib._npyio_impl.pickle.loads(data)\n", [(2, "dynamic-code")]),
    ("import _pickle\n", [(1, "forbidden-import")]),
    ("import os\nreal = os.dup(3)\nos.dup2(real, 3)\n", [(2, "process-control"), (3, "process-control")]),
    ("import os\nos.write(3, b'{}')\n", [(2, "process-control")]),
    ("import weakref\nweakref.finalize(object(), print)\n", [(2, "process-control")]),
    ("path = '/proc/self/fd/3'\n", [(1, "reads-tests")]),
    ("import copyreg\n", [(1, "forbidden-import")]),
    ("def f():\n    import shelve\n    return shelve.open('db')\n", [(2, "forbidden-import"), (3, "dynamic-code")]),
    ("import marshal\ncode = marshal.loads(blob)\n", [(1, "forbidden-import"), (2, "dynamic-code")]),
    ("import runpy\n", [(1, "forbidden-import")]),
    ("from runpy import run_path\n", [(1, "forbidden-import")]),
    ("import runpy as r\nr.run_module('x')\n", [(1, "forbidden-import"), (2, "dynamic-code")]),
    ("r = __import__('runpy')\n", [(1, "dynamic-code")]),
    ("import _signal\n", [(1, "forbidden-import")]),
    ("import _thread\n_thread.start_new_thread(f, ())\n", [(1, "forbidden-import")]),
    ("import atexit\natexit.register(print)\n", [(1, "forbidden-import")]),
    ("import gc\n", [(1, "forbidden-import")]),
    ("from gc import get_referrers\n", [(1, "forbidden-import")]),
    ("import ctypes\n", [(1, "forbidden-import")]),
    ("import ctypes.util\n", [(1, "forbidden-import")]),
    ("from _ctypes import dlopen\n", [(1, "forbidden-import")]),
    ("import _posixsubprocess\n", [(1, "forbidden-import")]),
    ("import faulthandler\nfaulthandler.dump_traceback_later(1, exit=True)\n", [(1, "forbidden-import")]),
], ids=["pkgutil.resolve_name", "resolve_name-aliased", "pkgutil-through-other-module", "pydoc.locate",
        "from-pydoc-import-locate", "pickle.loads", "from-pickle-import", "pickle.Unpickler", "pickle-through-numpy",
        "_pickle", "os.dup2", "os.write", "weakref.finalize", "/proc/self/fd", "copyreg", "shelve", "marshal.loads", "import-runpy", "from-runpy-import", "runpy-aliased",
        "__import__-runpy", "_signal", "_thread", "atexit", "gc", "from-gc-import", "ctypes", "ctypes.util",
        "_ctypes", "_posixsubprocess", "faulthandler"])
def test_routes_seen_in_attacks(tmp_path, source, expected):
    assert found(tmp_path, source) == expected


@pytest.mark.parametrize("module", [
    "pkgutil", "pydoc", "pickle", "_pickle", "copyreg", "shelve", "marshal", "runpy", "_signal", "_thread",
    "atexit", "gc", "ctypes", "_ctypes", "_posixsubprocess", "faulthandler", "_socket", "_multiprocessing",
    "_imp", "zipimport",
])
def test_forbidden_import_message_gives_the_manifest_reason(tmp_path, module):
    write(tmp_path, {TENSOR: f"import {module}\n"})
    [violation] = scan(tmp_path, CURRICULUM)
    assert (violation.line, violation.rule) == (1, "forbidden-import")
    assert f"'{module}'" in violation.message
    assert CURRICULUM.policy["import_reasons"][module] in violation.message


def test_route_message_names_the_route(tmp_path):
    write(tmp_path, {TENSOR: "import unittest.mock as m\nm.pkgutil.resolve_name('os:system')\n"})
    [violation] = scan(tmp_path, CURRICULUM)
    assert "unittest.mock.pkgutil.resolve_name" in violation.message


def test_raising_the_recursion_limit_is_allowed(tmp_path):
    assert found(tmp_path, "import sys\nsys.setrecursionlimit(10_000)\n") == []


# ---------------------------------------------------------------------------------- introspection
@pytest.mark.parametrize("source", [
    "import sys\nframe = sys._getframe(1)\n",
    "def f(frame):\n    return frame.f_back.f_locals\n",
    "g = f.__globals__\n",
    "subs = ().__class__.__bases__[0].__subclasses__()\n",
    "g = getattr(f, '__glo' + 'bals__')\n",
    "try:\n    1 / 0\nexcept Exception as e:\n    t = e.__traceback__.tb_frame\n",
], ids=["_getframe", "f_locals", "__globals__", "__subclasses__", "getattr-folded", "tb_frame"])
def test_introspection(tmp_path, source):
    assert "introspection" in {rule for _, rule in found(tmp_path, source)}


# ---------------------------------------------------------------------------------- monkeypatch
@pytest.mark.parametrize("source, line", [
    ("import numpy as np\nnp.testing.assert_allclose = lambda *a, **k: None\n", 2),
    ("from numpy import testing\ntesting.assert_array_equal = print\n", 2),
    ("import math\nsetattr(math, 'isclose', lambda *a, **k: True)\n", 2),
    ("import numpy\nname = 'allclose'\nsetattr(numpy, name, None)\n", 3),
    ("import numpy as np\ndel np.testing\n", 2),
    ("import numpy as np\nnp.allclose, x = f, 1\n", 2),
], ids=["attribute", "from-import", "setattr-literal", "setattr-variable", "delete", "tuple-target"])
def test_patching_other_libraries(tmp_path, source, line):
    assert (line, "monkeypatch") in found(tmp_path, source)


def test_patching_the_package_own_classes_is_allowed(tmp_path):
    source = """
        from tinytorch.core.tensor import Tensor
        from .layers import Module
        import numpy as np

        def enable_autograd():
            Tensor.__init__ = wrap(Tensor.__init__)
            setattr(Tensor, "__mul__", wrap(Tensor.__mul__))
            Module.training = True
            self.data = np.zeros(3)
            np.random.default_rng(0).random()
        """
    assert found(tmp_path, source) == []


# ---------------------------------------------------------------------------------- reads-tests
@pytest.mark.parametrize("source", [
    "open('../spec/test_01_tensor.py')\n",
    "root = base / 'spec'\n",
    "p = 'hidden_tests'\n",
    "p = 'CONFTEST.py'\n",
    "import os\nos.environ.get('PYTEST_CURRENT_TEST')\n",
    "p = 'report.json'\n",
    "flag = '--json-report'\n",
    "import glob\nglob.glob('**/test_*.py', recursive=True)\n",
    "p = 'test_06_autograd.py'\n",
    "p = b'hidden_tests'\n",
    "p = 'grading\\\\runner'\n",
], ids=["spec-path", "spec-component", "hidden_tests", "conftest-any-case", "pytest-env", "report.json",
        "json-report", "test-glob", "test-file", "bytes", "backslash-path"])
def test_reads_tests_strings(tmp_path, source):
    assert "reads-tests" in {rule for _, rule in found(tmp_path, source)}


@pytest.mark.parametrize("text", [
    "specific", "inspect/x", "my_spec.txt", "unit tests passed", "latest_results.txt", "test_ x.py",
    "contest_results.txt", "grading_scale", "test_2.txt.py",
], ids=["specific", "inspect", "spec-in-a-name", "tests-in-prose", "test_-without-py", "space-in-run",
        "no-py", "grading-in-a-name", "py-not-after-the-run"])
def test_reads_tests_leaves_ordinary_text_alone(tmp_path, text):
    assert found(tmp_path, f"p = {text!r}\n") == []


@pytest.mark.parametrize("text, part", [
    ("../spec/test_01_tensor.py", "/spec/"),
    ("C:\\course\\Tests", "\\Tests"),
    ("**/Test_[0-9]*.py", "Test_[0-9]*.py"),
    ("test_test_test_test_x.py", "test_test_test_test_x.py"),
    ("runs --JSON-REPORT", "JSON-REPORT"),
], ids=["path-part", "backslash-and-end", "glob", "repeated-prefix", "case"])
def test_reads_tests_message_quotes_the_part_that_matched(tmp_path, text, part):
    write(tmp_path, {TENSOR: f"p = {text!r}\n"})
    [violation] = scan(tmp_path, CURRICULUM)
    assert violation.rule == "reads-tests" and f"whose part {part!r}" in violation.message


@pytest.mark.parametrize("source", [
    "p = f'{root}/hidden_tests/x'\n",
    "p = f\"{'hid'}den_tests\"\n",
    "p = f'{root!r}{\"spec\"}'\n",
    "p = 'hidden' + '_tests'\n",
    "p = '-'.join(['--json', 'report'])\n",
    "p = x + '/spec/' + y\n",
    "p = '%s/conftest.py' % root\n",
    "open(f'{open(\"conftest.py\").name}')\n",
], ids=["f-string-part", "f-string-constant-value", "f-string-nested-constant", "concatenation", "join",
        "mixed-concatenation", "percent-format", "inside-f-string-call"])
def test_reads_tests_in_built_strings(tmp_path, source):
    assert "reads-tests" in {rule for _, rule in found(tmp_path, source)}


def test_docstrings_are_exempt_but_other_strings_are_not(tmp_path):
    source = '''\
        """Module docstring: reads hidden_tests and spec/ (not really)."""


        class C:
            """Class docstring: pytest."""

            def f(self):
                """Function docstring: conftest.py."""
                return 1


        async def g():
            """Async docstring: report.json."""


        x = 1
        "hidden_tests"
        '''
    assert found(tmp_path, source) == [(17, "reads-tests")]


def test_second_statement_string_in_function_is_not_a_docstring(tmp_path):
    source = 'def f():\n    """Doc."""\n    return "pytest"\n'
    assert found(tmp_path, source) == [(3, "reads-tests")]


def test_one_report_per_built_string(tmp_path):
    assert found(tmp_path, "p = 'hidden' + '_tests' + '/spec/' + 'conftest'\n") == [(1, "reads-tests")]


def test_reads_tests_message_quotes_the_text(tmp_path):
    write(tmp_path, {TENSOR: "p = f'{root}/hidden_tests'\n"})
    [violation] = scan(tmp_path, CURRICULUM)
    assert "'{...}/hidden_tests'" in violation.message and "remove" in violation.message


# ---------------------------------------------------------------------------------- files
def test_compiled_files_are_reported(tmp_path):
    write(tmp_path, {
        "tinytorch/core/tensor.py": "",
        "tinytorch/core/fast.cpython-311-x86_64-linux-gnu.so": b"\x7fELF",
        "tinytorch/core/fast.pyd": b"MZ",
        "tinytorch/core/tensor.pyc": b"\x00",
        "tinytorch/lib.dylib": b"\x00",
    })
    violations = scan(tmp_path, CURRICULUM)
    assert [(v.path, v.line, v.rule) for v in violations] == [
        ("tinytorch/core/fast.cpython-311-x86_64-linux-gnu.so", 0, "file-type"),
        ("tinytorch/core/fast.pyd", 0, "file-type"),
        ("tinytorch/core/tensor.pyc", 0, "file-type"),
        ("tinytorch/lib.dylib", 0, "file-type"),
    ]
    assert all("compiled code is not allowed" in v.message for v in violations)


def test_pycache_bytecode_is_ignored_but_other_pycache_files_are_not(tmp_path):
    write(tmp_path, {
        "tinytorch/core/tensor.py": "",
        "tinytorch/core/__pycache__/tensor.cpython-311.pyc": b"\x00\x01",
        "tinytorch/core/__pycache__/evil.so": b"\x7fELF",
        "tinytorch/core/__pycache__/sneaky.py": "import torch\n",
    })
    assert [(v.path, v.rule) for v in scan(tmp_path, CURRICULUM)] == [
        ("tinytorch/core/__pycache__/evil.so", "file-type"),
        ("tinytorch/core/__pycache__/sneaky.py", "forbidden-import"),
    ]


def test_other_file_types_are_reported_and_os_clutter_ignored(tmp_path):
    write(tmp_path, {"tinytorch/answers.npy": b"\x93NUMPY", "tinytorch/notes.md": "hi",
                     "tinytorch/.DS_Store": b"\x00", "tinytorch/core/tensor.py": ""})
    violations = scan(tmp_path, CURRICULUM)
    assert [(v.path, v.rule) for v in violations] == [("tinytorch/answers.npy", "file-type"),
                                                      ("tinytorch/notes.md", "file-type")]
    assert "not a Python source file" in violations[0].message


def test_symlinks_are_reported_and_not_followed(tmp_path):
    outside = write(tmp_path / "outside", {"secret.py": "import torch\n", "dir/inner.py": "import torch\n"})
    submission = write(tmp_path / "sub", {"tinytorch/core/tensor.py": ""})
    (submission / "tinytorch/core/link.py").symlink_to(outside / "secret.py")
    (submission / "tinytorch/linkdir").symlink_to(outside / "dir", target_is_directory=True)
    (submission / "tinytorch/dangling.py").symlink_to(outside / "missing.py")
    violations = scan(submission, CURRICULUM)
    assert [(v.path, v.line, v.rule) for v in violations] == [
        ("tinytorch/core/link.py", 0, "symlink"),
        ("tinytorch/dangling.py", 0, "symlink"),
        ("tinytorch/linkdir", 0, "symlink"),
    ]


def test_package_directory_that_is_a_symlink(tmp_path):
    real = write(tmp_path / "real", {"tinytorch/core/tensor.py": "import torch\n"})
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub/tinytorch").symlink_to(real / "tinytorch", target_is_directory=True)
    assert [(v.path, v.rule) for v in scan(tmp_path / "sub", CURRICULUM)] == [("tinytorch", "symlink")]


def test_fifo_is_reported_without_being_opened(tmp_path):
    write(tmp_path, {"tinytorch/core/tensor.py": ""})
    os.mkfifo(tmp_path / "tinytorch/core/pipe.py")  # opening it for reading would block forever
    assert [(v.path, v.rule) for v in scan(tmp_path, CURRICULUM)] == [("tinytorch/core/pipe.py", "file-type")]


def test_big_python_file_is_reported_and_not_parsed(tmp_path):
    limit = CURRICULUM.policy["max_file_bytes"]
    body = "import torch\n" + "x = 1\n" * (limit // 6 + 1)
    assert len(body.encode()) > limit
    violations = scan(write(tmp_path, {TENSOR: body}), CURRICULUM)
    assert [(v.line, v.rule) for v in violations] == [(0, "file-size")]
    assert str(limit) in violations[0].message


def test_file_just_under_the_limit_is_scanned(tmp_path):
    limit = CURRICULUM.policy["max_file_bytes"]
    body = "import torch\n"
    body += "#" * (limit - len(body) - 1) + "\n"
    assert len(body.encode()) == limit
    assert found(tmp_path, body) == [(1, "forbidden-import")]


def test_too_many_files_stops_the_scan(tmp_path):
    limit = CURRICULUM.policy["max_files"]
    write(tmp_path, {f"tinytorch/m{i:04d}.py": "" for i in range(limit)})
    write(tmp_path, {"tinytorch/zzz.py": "import torch\n"})  # walked last: past the limit, never read
    assert [(v.path, v.line, v.rule) for v in scan(tmp_path, CURRICULUM)] == [("tinytorch", 0, "submission-size")]


def test_too_many_python_bytes_stops_the_scan(tmp_path):
    per_file = CURRICULUM.policy["max_file_bytes"]
    count = CURRICULUM.policy["max_total_bytes"] // per_file
    write(tmp_path, {f"tinytorch/big{i}.py": "#" * (per_file - 1) + "\n" for i in range(count)})
    assert scan(tmp_path, CURRICULUM) == []  # exactly at the limit
    write(tmp_path, {"tinytorch/zzz.py": "import torch\n"})
    assert [(v.path, v.rule) for v in scan(tmp_path, CURRICULUM)] == [("tinytorch", "submission-size")]


def test_invalid_utf8_is_reported_with_its_line(tmp_path):
    assert found(tmp_path, b"x = 1\ny = '\xff\xfe'\n") == [(2, "encoding")]


def test_declared_latin1_is_reported_and_still_scanned(tmp_path):
    source = "# -*- coding: latin-1 -*-\nimport torch\nname = 'caf\xe9'\n".encode("latin-1")
    # sorted by line, then rule: the cookie (line 1), the non-UTF-8 byte (line 3), the import (line 2)
    assert found(tmp_path, source) == [(1, "encoding"), (2, "forbidden-import"), (3, "encoding")]


def test_utf7_cookie_cannot_hide_code(tmp_path):
    # In UTF-7, "+AAo-" is a newline: Python would run `import torch` even though the bytes look like a comment.
    source = b"# coding: utf-7\n# harmless +AAo-import torch\n"
    rules = {rule for _, rule in found(tmp_path, source)}
    assert rules == {"encoding", "forbidden-import"}


def test_unknown_encoding_cookie(tmp_path):
    assert found(tmp_path, b"# coding: no-such-codec\nx = 1\n") == [(1, "encoding")]


def test_utf8_bom_and_non_ascii_text_are_fine(tmp_path):
    assert found(tmp_path, "\ufeff# Größe\nname = 'naïve π'\n".encode("utf-8")) == []


@pytest.mark.parametrize("source", [
    "import torch\ndef broken(:\n",
    b"import torch\x00\n",
], ids=["syntax-error", "null-byte"])
def test_unparsable_file_is_skipped_silently(tmp_path, source):
    write(tmp_path, {"tinytorch/core/autograd.py": "import torch\n"})
    assert found(tmp_path, source) == [(1, "forbidden-import")]  # only autograd.py's


def test_long_expressions_python_accepts_are_scanned(tmp_path):
    # Python compiles a 2000-term sum; the scan must read it too, not give up as unscannable.
    terms = ["'a'"] * 2000
    terms[1000] = "'hidden_tests'"
    source = "x = " + "+".join(terms) + "\ny = a" + ".b" * 2000 + "\nimport torch\n"
    assert found(tmp_path, source) == [(1, "reads-tests"), (3, "forbidden-import")]


def test_code_too_deep_for_python_is_unscannable_not_a_crash(tmp_path):
    source = "x = " + "+".join(["'a'"] * 20000) + "\nimport torch\n"
    assert found(tmp_path, source) == [(0, "unscannable")]


# ---------------------------------------------------------------------------------- tree shape
def test_missing_package_gives_nothing(tmp_path):
    write(tmp_path, {"README.md": "no package", "other/x.py": "import torch\n"})
    assert scan(tmp_path, CURRICULUM) == []


def test_empty_package_gives_nothing(tmp_path):
    (tmp_path / "tinytorch").mkdir()
    assert scan(tmp_path, CURRICULUM) == []


def test_files_outside_the_package_are_not_scanned(tmp_path):
    write(tmp_path, {"setup.py": "import subprocess\n", "tinytorch/__init__.py": ""})
    assert scan(tmp_path, CURRICULUM) == []


def test_deeply_nested_directories(tmp_path):
    relative = "tinytorch/" + "/".join(f"d{i}" for i in range(120)) + "/deep.py"
    write(tmp_path, {relative: "import torch\n"})
    assert [(v.path, v.rule, v.module) for v in scan(tmp_path, CURRICULUM)] == [
        (relative, "forbidden-import", None)]


# ---------------------------------------------------------------------------------- attribution, order
@pytest.mark.parametrize("relative, module", [
    ("tinytorch/core/tensor.py", 1),
    ("tinytorch/core/autograd.py", 6),
    ("tinytorch/core/training.py", 8),
    ("tinytorch/__init__.py", None),
    ("tinytorch/core/__init__.py", None),
    ("tinytorch/core/helpers.py", None),
])
def test_module_attribution(tmp_path, relative, module):
    write(tmp_path, {relative: "import torch\n"})
    [violation] = scan(tmp_path, CURRICULUM)
    assert (violation.path, violation.module) == (relative, module)


def test_compiled_module_file_is_attributed_to_the_module_it_replaces(tmp_path):
    write(tmp_path, {"tinytorch/core/tensor.cpython-311-x86_64-linux-gnu.so": b"\x7fELF",
                     "tinytorch/core/blob.so": b"\x7fELF"})
    assert [(v.path, v.line, v.module) for v in scan(tmp_path, CURRICULUM)] == [
        ("tinytorch/core/blob.so", 0, None),
        ("tinytorch/core/tensor.cpython-311-x86_64-linux-gnu.so", 0, 1),
    ]


def test_results_are_sorted_and_deterministic(tmp_path):
    write(tmp_path, {
        "tinytorch/core/tensor.py": "import os\nimport torch\nos._exit(0)\nx = eval('1')\n",
        "tinytorch/core/activations.py": "p = 'conftest'\nimport scipy\n",
        "tinytorch/__init__.py": "import jax\n",
        "tinytorch/blob.bin": b"\x00",
    })
    first = scan(tmp_path, CURRICULUM)
    assert first == scan(tmp_path, CURRICULUM)
    assert [(v.path, v.line) for v in first] == [
        ("tinytorch/__init__.py", 1),
        ("tinytorch/blob.bin", 0),
        ("tinytorch/core/activations.py", 1),
        ("tinytorch/core/activations.py", 2),
        ("tinytorch/core/tensor.py", 2),
        ("tinytorch/core/tensor.py", 3),
        ("tinytorch/core/tensor.py", 4),
    ]
    assert all(isinstance(v, PolicyViolation) and v.message.strip() for v in first)


def test_violations_are_frozen(tmp_path):
    write(tmp_path, {TENSOR: "import torch\n"})
    [violation] = scan(tmp_path, CURRICULUM)
    with pytest.raises(AttributeError):
        violation.line = 2


# ---------------------------------------------------------------------------------- manifest
def test_manifest_defines_every_policy_key():
    policy = CURRICULUM.policy
    for key in ("forbidden_imports", "dynamic_code", "builtins_tamper", "no_assign", "process_control",
                "introspection", "forbidden_strings", "compiled_suffixes", "max_file_bytes", "max_files",
                "max_total_bytes", "scan_steps_per_file", "import_reasons", "module_aliases"):
        assert policy.get(key), key
    assert set(policy["forbidden_imports"]) <= set(policy["import_reasons"])
    # forbidden_strings is plain text now (see the manifest): nothing in it may read as a regular expression
    assert not any(re.search(r"[\\()|+?{}^$]", entry) for entry in policy["forbidden_strings"])


def manifest_with(old: str, new: str) -> str:
    manifest = (REPO_ROOT / "grading" / "curriculum.toml").read_text(encoding="utf-8")
    assert old in manifest
    return manifest.replace(old, new, 1)


@pytest.mark.parametrize("entry", ["'test_*_*.py'", "''", "'/'", "'**'", '"a\\u0000b"'],
                         ids=["two-stars", "empty", "only-slash", "only-stars", "nul"])
def test_bad_forbidden_string_in_manifest_is_a_manifest_error(tmp_path, entry):
    manifest = manifest_with("forbidden_strings = [", f"forbidden_strings = [{entry}, ")
    write(tmp_path, {TENSOR: ""})
    with pytest.raises(ManifestError, match="forbidden_strings"):
        scan(tmp_path, parse(manifest))


@pytest.mark.parametrize("value", ["0", "-1", "'5'", "true", "2.5"])
def test_scan_budget_must_be_a_positive_integer(tmp_path, value):
    manifest = manifest_with("scan_steps_per_file = 2000000", f"scan_steps_per_file = {value}")
    write(tmp_path, {TENSOR: ""})
    with pytest.raises(ManifestError, match="scan_steps_per_file must be a positive integer"):
        scan(tmp_path, parse(manifest))


def test_scan_budget_defaults_to_two_million_steps():
    manifest = manifest_with("scan_steps_per_file = 2000000\n", "")
    assert "scan_steps_per_file" not in parse(manifest).policy
    assert Policy.from_table(parse(manifest).policy, "tinytorch").scan_steps_per_file == 2_000_000


def test_name_patterns_take_star_as_their_only_wildcard(tmp_path):
    manifest = manifest_with('process_control = [', 'process_control = ["os.exec[lv]", ')
    write(tmp_path, {TENSOR: ""})
    with pytest.raises(ManifestError, match="process_control"):
        scan(tmp_path, parse(manifest))
