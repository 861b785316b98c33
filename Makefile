# Two commands on a fresh machine: `make grade` (the main job) and `make test` (every test root).
# Both bootstrap .venv with pinned dependencies first; re-running them is cheap (idempotent).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: grade test venv stubs stubs-check clean

# One BLAS thread: on 2 cores, multi-threaded OpenBLAS is slower and erratic for the small matrices
# of this course, and one thread keeps floating point reproducible (the grader does the same).
export OPENBLAS_NUM_THREADS = 1
export OMP_NUM_THREADS = 1
export MKL_NUM_THREADS = 1

grade: $(STAMP)
	$(BIN)/kata grade reference

test: $(STAMP)
	$(BIN)/kata stubs --check
	$(BIN)/kata lint
	$(BIN)/python -m pytest tests -q
	$(BIN)/coverage erase
	TINYTORCH_HYPOTHESIS_PROFILE=grading $(BIN)/coverage run -m pytest spec hidden_tests -q
	$(BIN)/coverage report

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

stubs: $(STAMP)
	$(BIN)/kata stubs

clean:
	rm -rf $(VENV) build .coverage
