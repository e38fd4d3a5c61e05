# Quick start: `make run` and `make test` on a fresh machine; both install what they need.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# Debian's groovy package finds Java through default-java.
export JAVA_HOME ?= /usr/lib/jvm/default-java

.PHONY: run test install system-deps lint bench clean

# The service with its embedded defaults: SQLite in build/, the example pipelines, no Jenkins.
run: install
	mkdir -p build
	SIDECAR_DATABASE_URL=$${SIDECAR_DATABASE_URL:-sqlite:///build/jenkins-sidecar.db} \
	SIDECAR_EXAMPLES_DIR=$${SIDECAR_EXAMPLES_DIR:-examples} \
	$(BIN)/jenkins-sidecar serve

# Every store test runs on SQLite and on PostgreSQL; a reachable server is required.
test: install system-deps
	$(BIN)/lint-imports --no-cache
	postgres_url=$$(scripts/ensure-postgres.sh) && \
	TEST_POSTGRES_URL=$$postgres_url TEST_REQUIRE_POSTGRES=1 $(BIN)/python -m pytest

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Groovy 2.4 (the Groovy Jenkins runs) compiles every golden Jenkinsfile in the tests.
system-deps:
	@if ! groovy -e 'print ""' >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq groovy default-jre-headless >/dev/null; \
	fi
	@groovy --version
	@# npm and Go run in tests/test_cache_concurrency.py (two writers on one cache).
	@if ! command -v npm >/dev/null || ! command -v go >/dev/null; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			$$(command -v npm >/dev/null || echo npm) $$(command -v go >/dev/null || echo golang-go) >/dev/null; \
	fi
	@npm --version && go version
	@# pg_dump and pg_restore back `jenkins-sidecar db backup|restore` on PostgreSQL.
	@if ! command -v pg_dump >/dev/null; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql-client >/dev/null; \
	fi

bench: install
	$(BIN)/python benchmarks/render.py

clean:
	rm -rf $(VENV) build .pytest_cache .hypothesis
