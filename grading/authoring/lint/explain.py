"""`kata lint --explain RULE`: what each rule protects and how to fix a violation."""

EXPLANATIONS: dict[str, str] = {
    "import-forward": "A module may use only the modules in its prerequisite closure (grading/curriculum.toml). "
    "Importing a later module makes an early module fail for students who have not built it yet. "
    "Fix: move the code to the later module, or pass the object in as an argument.",
    "import-undeclared": "Integration tests and milestones run the student's whole package; they must declare every "
    "module they use so the grader and the report attribute failures correctly. Fix: add the module to "
    "`pytest.mark.module(...)` (tests) or `REQUIRES` (milestones).",
    "test-no-module": "Every test file belongs to curriculum modules. Fix: add `pytestmark = pytest.mark.module(N)` "
    "(or `REQUIRES = (...)` in a milestone).",
    "concept-leak": "Docstrings, comments and messages may only use concepts students have met (the glossary in the "
    "manifest maps each term to the module that teaches it). Fix: reword, or mark a deliberate preview with "
    "`# lint: allow TERM -- reason` on that line.",
    "pragma-no-reason": "A pragma that allows a concept must say why. Fix: `# lint: allow TERM -- reason`.",
    "patch-foreign": "Only the hooks named in [patch_hooks] (module 06's enable_autograd) may modify classes of "
    "other modules; any other patch is a hidden coupling. Fix: add a method in the owning module, or register "
    "the hook in the manifest.",
    "docstring-missing": "Stubs are typed by docstring: a public callable without a docstring leaves students guessing.",
    "docstring-args": "Each argument is documented as `name (type): meaning` under Args:, with shapes for arrays.",
    "docstring-returns": "A callable whose reference returns a value documents it under Returns: (type, shape, dtype).",
    "docstring-raises": "A callable whose reference raises documents the errors under Raises:.",
    "docstring-example": "Every public callable shows a short Example: so students see the call in use.",
    "docstring-swallowed": "A solution region contained a `def`/`class` line, so the stub lost a signature. "
    "Fix: keep signatures and docstrings outside `### BEGIN SOLUTION` / `### END SOLUTION`.",
    "manifest-invalid": "The manifest itself is malformed (duplicate, unknown prerequisite, cycle...). The message says where.",
    "manifest-missing-file": "A built module needs its reference file, stub, spec file and hidden unit tests. "
    "Fix: add the file, or list the module under `planned` until it lands.",
    "manifest-planned-exists": "A module listed as planned already has files. Fix: remove it from `planned` so the "
    "other checks cover it.",
    "manifest-unknown-module": "A test or milestone declares a module number the manifest does not define.",
    "layer-back-import": "The grader's own packages are layered ([grader.packages] in grading/curriculum.toml): cli on "
    "top, then classroom and student, reports, engine, judged, and sandbox and authoring at the bottom. A package "
    "may import only the packages listed for it and what those may import; a back-import ties a lower layer (the "
    "sandbox, the judged boundary) to code that runs outside it. Fix: move the shared code down to the lowest "
    "package that needs it, or pass the object in as an argument.",
    "layer-unparsable": "A file of the grader that Python cannot parse, so its imports cannot be checked (and the "
    "grader would fail to import it). The message gives the parser's reason.",
    "layer-undeclared": "Every folder of grading/ that holds Python code is a package named in [grader.packages], so "
    "its place in the layering is stated, and no module sits at the top of grading/ beside __init__.py (where "
    "the tree is) and __main__.py (`python -m grading`). Fix: add it to the table with the packages it may "
    "import, or move its files into the package they belong to.",
    "test-object-at-import": "In judged mode every object of the submission lives in the sandboxed worker that made "
    "it. An object a test file makes while it is imported (module level, a parametrize list, a default argument) "
    "lives in the first worker: once a timeout or a crash replaces it, every later test using the object fails "
    "although it never called the broken code. Fix: make it inside the test; parametrize with the class "
    "(`[ReLU, GELU]`) or a factory (`lambda: Softmax(dim=2)`).",
}
