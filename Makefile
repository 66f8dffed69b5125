# Two commands on a fresh machine:  make demo  (main job end to end)   make test  (the test suite)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_RUNTIME := espeak-ng
APT_TEST := espeak-ng prometheus prometheus-pushgateway chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export RAY_USAGE_STATS_ENABLED := 0
export PROMETHEUS_DISABLE_CREATED_SERIES := True

.PHONY: demo test venv lock apt-runtime apt-test clean

# Every package at the version in requirements.lock (what CI tested); storm itself editable on top.
$(BIN)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

# Re-resolve the pins after changing dependencies in pyproject.toml (or to take newer releases: add --upgrade).
lock: venv
	$(BIN)/pip-compile -q --extra dev --strip-extras --no-emit-index-url --no-emit-find-links $(LOCK_ARGS) -o requirements.lock pyproject.toml

venv: $(BIN)/.installed

apt-runtime:
	@command -v espeak-ng >/dev/null || ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q $(APT_RUNTIME))

apt-test:
	@dpkg -s $(APT_TEST) >/dev/null 2>&1 || ($(SUDO) apt-get update -q && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(APT_TEST))

demo: venv apt-runtime
	$(BIN)/storm demo

# Two pytest workers, each test module whole on one (its module fixtures, e.g. a trained world, built once); each
# worker starts its own small Ray cluster. TEST_WORKERS=0 runs the suite in this one process.
TEST_WORKERS ?= 2
test: venv apt-test
	$(BIN)/python -m pytest -q -ra -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

clean:
	rm -rf storm-data storm-metrics.prom ray_results
