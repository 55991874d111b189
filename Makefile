# DoseLedger: `make run` serves on http://127.0.0.1:8080/ with the embedded database,
# `make test` runs the test suite, `make demo` adds demonstration studies (beside
# `make run`, or alone). Each sets up .venv on first use (and again whenever
# pyproject.toml changes).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test demo lint install clean vendor lock

run: $(STAMP)
	$(BIN)/doseledger serve

test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/doseledger demo

lint: $(STAMP)
	$(BIN)/ruff check .

install: $(STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "DoseLedger needs Python 3.11 or newer; set PYTHON=python3.11 (found: $$($(PYTHON) --version))" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# The stamp is newer than pyproject.toml once the project is installed from it.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Refresh the vendored JavaScript (committed, so a fresh clone needs no npm) from package-lock.json.
ECHARTS := service/web/static/vendor/echarts
SWAGGER := service/web/static/vendor/swagger-ui
vendor:
	npm ci --ignore-scripts
	mkdir -p $(SWAGGER)
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css \
		node_modules/swagger-ui-dist/LICENSE node_modules/swagger-ui-dist/NOTICE $(SWAGGER)/
	cp node_modules/echarts/dist/echarts.min.js node_modules/echarts/LICENSE node_modules/echarts/NOTICE $(ECHARTS)/
	cp node_modules/zrender/LICENSE $(ECHARTS)/LICENSE-zrender
	cp node_modules/tslib/LICENSE.txt $(ECHARTS)/LICENSE-tslib

# Pin every package the image installs, with hashes, from pyproject.toml (dependencies, the server extra,
# the build backend): run after changing them, with pip configured for the package index the image uses;
# tests/test_deploy.py fails while the lock and pyproject.toml disagree.
lock: $(STAMP)
	env -u PIP_FIND_LINKS CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet \
		--generate-hashes --allow-unsafe --strip-extras --extra server --build-deps-for wheel \
		--no-emit-index-url -o requirements.lock pyproject.toml
