# Two commands on a fresh machine: `make grade` (the main job) and `make test` (every test root).
# Both bootstrap .venv with pinned dependencies first; re-running them is cheap (idempotent).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
GRADER_STAMP := $(VENV)/.installed-grader

.PHONY: grade test soak sandbox venv grader-venv stubs stubs-check clean

# One BLAS thread: on 2 cores, multi-threaded OpenBLAS is slower and erratic for the small matrices
# of this course, and one thread keeps floating point reproducible (the grader does the same).
export OPENBLAS_NUM_THREADS = 1
export OMP_NUM_THREADS = 1
export MKL_NUM_THREADS = 1

grade: $(GRADER_STAMP)
	$(BIN)/kata grade reference

# The machinery tests run as three pytest processes side by side, each a group of about equal
# length on two cores: the main group, ALONGSIDE (tests that often wait on git, act and sandboxes
# starting) and SLOWED (a grade at a quarter of one CPU: long, but it leaves the CPU to the others).
# The other groups' output follows the main group's. The spec and hidden suites run inside the
# two-way proof (tests/curriculum/test_two_way.py), on the reference and the stubs in both execution
# modes; its direct run on the reference is measured by coverage into COVERAGE_DATA, and the coverage
# gate (fail_under in pyproject.toml) reads that, so the suites are not run a fifth time.
ALONGSIDE := tests/classroom/test_workflows.py tests/classroom/test_gradebook.py tests/classroom/test_regrade.py tests/engine/test_load.py \
             tests/student/test_student_loop.py tests/curriculum/test_two_way.py tests/milestones/test_milestones.py
SLOWED := tests/engine/test_load.py::test_the_reference_keeps_full_marks_at_a_quarter_of_one_cpu
COVERAGE_DATA := $(CURDIR)/build/.coverage
PYTEST_GROUP = ( $(BIN)/python -m pytest -q $(2) > build/tests-$(1).log 2>&1; echo $$? > build/tests-$(1).status ) &
test: $(STAMP) sandbox
	$(BIN)/kata stubs --check
	$(BIN)/kata lint
	$(BIN)/kata calibrate --check
	@mkdir -p build && rm -f $(COVERAGE_DATA) build/tests-*.status
	@export KATA_COVERAGE_FILE=$(COVERAGE_DATA); \
	$(call PYTEST_GROUP,alongside,$(ALONGSIDE) --deselect=$(SLOWED)) \
	$(call PYTEST_GROUP,slowed,$(SLOWED)) \
	$(BIN)/python -m pytest tests -q $(addprefix --ignore=,$(ALONGSIDE)); status=$$?; wait; \
	for group in alongside slowed; do echo "the $$group group (ran alongside):"; cat build/tests-$$group.log; \
	  test "$$(cat build/tests-$$group.status)" = 0 || status=1; done; \
	test $$status = 0
	@test -f $(COVERAGE_DATA) || { echo "no coverage data: the two-way proof's direct run on the reference did not run" >&2; exit 1; }
	$(BIN)/coverage report --data-file=$(COVERAGE_DATA)

# Not part of `make test`: every spec and hidden test on the reference with many random examples
# (TINYTORCH_SOAK_EXAMPLES, default 400) for each seed, to find tests that fail a correct
# implementation by chance. `make soak SOAK_SEEDS="7 8"` picks the seeds; each seed is one run.
SOAK_SEEDS ?= 1 2 3
soak: $(STAMP)
	@status=0; for seed in $(SOAK_SEEDS); do \
	  echo "soak: seed $$seed, $${TINYTORCH_SOAK_EXAMPLES:-400} examples per test"; \
	  TINYTORCH_HYPOTHESIS_PROFILE=soak $(BIN)/python -m pytest spec hidden_tests -q -p no:cacheprovider \
	    --hypothesis-seed=$$seed || status=1; \
	done; exit $$status

# The grader runs every submission inside bubblewrap, and the security tests need the real sandbox:
# install it when we can (root with apt), otherwise stop with the one command to run.
sandbox: $(GRADER_STAMP)
	@if ! command -v bwrap >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing bubblewrap (the grader's sandbox)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	  elif command -v apt-get >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	    echo "installing bubblewrap (the grader's sandbox) with sudo"; \
	    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	  else \
	    echo "bubblewrap is required: run  sudo apt-get install -y bubblewrap  and try again" >&2; exit 1; \
	  fi; \
	fi
	@$(BIN)/python -m grading sandbox --require

venv: $(STAMP)

# Everything: the grader, the test tools and the maintainers' extras (coverage, act, actionlint, ...).
$(STAMP): $(GRADER_STAMP) pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,maint]'
	touch $(STAMP)

# The grader alone (`kata` and what grading runs), for the instructor's regrade workflow: half the
# install of `make venv`, without the maintainers' extras.
grader-venv: $(GRADER_STAMP)

$(GRADER_STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(GRADER_STAMP)

stubs: $(STAMP)
	$(BIN)/kata stubs

clean:
	rm -rf $(VENV) build .coverage
