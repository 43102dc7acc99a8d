# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# The default suite leaves out tests marked slow; CI (CI=true) or SLOW=1 runs everything.
ifeq ($(or $(CI),$(SLOW)),)
PYTEST_MARKS := -m "not slow"
endif

.PHONY: demo test test-all test-mlflow-full bench clean

$(STAMP): setup.cfg setup.py
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python 3.10+ is needed"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,mlflow]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/quickstart.py

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_MARKS) $(PYTEST_ARGS)

test-all: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The MLflow bridge's suites under full `mlflow` (not just mlflow-skinny), in a venv of their own.
MLFLOW_VENV := .venv-mlflow
$(MLFLOW_VENV)/.installed-stamp: setup.cfg setup.py
	test -x $(MLFLOW_VENV)/bin/python || $(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install -q --upgrade pip
	$(MLFLOW_VENV)/bin/python -m pip install -q -e '.[test]' mlflow
	touch $@

test-mlflow-full: $(MLFLOW_VENV)/.installed-stamp
	$(MLFLOW_VENV)/bin/python -m pytest -q $(PYTEST_MARKS) tests/test_mlflow_bridge.py tests/test_mlflow_auth.py \
		tests/test_mlflow_conformance.py tests/test_mlflow_login.py tests/test_mlflow_server_artifacts.py \
		tests/test_mlflow_registry.py tests/test_mlflow_projects.py

bench: $(STAMP)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
