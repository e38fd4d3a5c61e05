# Quick start: `make run` and `make test` on a fresh machine; both install what they need.
# `make run` installs only what `serve` needs (the package and its runtime dependencies);
# `make test` adds the test extras and the Debian packages the tests use.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
BLUEOCEAN_CLIENT := tests/blueocean_client
# Debian's groovy package finds Java through default-java.
export JAVA_HOME ?= /usr/lib/jvm/default-java

.PHONY: run test install install-run system-deps lint bench clean

# The service with its embedded defaults: SQLite in build/, the example pipelines, no Jenkins.
run: install-run
	mkdir -p build
	SIDECAR_DATABASE_URL=$${SIDECAR_DATABASE_URL:-sqlite:///build/jenkins-sidecar.db} \
	SIDECAR_EXAMPLES_DIR=$${SIDECAR_EXAMPLES_DIR:-examples} \
	$(BIN)/jenkins-sidecar serve

# Every store test runs on SQLite and on PostgreSQL; a reachable server is required.
test: install system-deps $(BLUEOCEAN_CLIENT)/node_modules/.installed
	$(BIN)/lint-imports --no-cache
	postgres_url=$$(scripts/ensure-postgres.sh) && \
	TEST_POSTGRES_URL=$$postgres_url TEST_REQUIRE_POSTGRES=1 $(BIN)/python -m pytest

# Everything: the service, and the tools and libraries the tests use.
install: $(VENV)/.installed

install-run: $(VENV)/.installed-run

$(VENV)/.installed-run: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed: $(VENV)/.installed-run
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
	@# tests/ui/ drive Debian's Chromium headless (Playwright, no browser download of its own);
	@# fonts-liberation gives the screenshots the metric-compatible Arial/Helvetica.
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -q Liberation; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
			chromium fonts-liberation >/dev/null; \
	fi
	@/usr/bin/chromium --version

# The unmodified Blue Ocean client library, pinned by its lock file, that
# tests/test_blueocean_client.py drives against the sidecar (npm comes with system-deps).
$(BLUEOCEAN_CLIENT)/node_modules/.installed: $(BLUEOCEAN_CLIENT)/package.json \
		$(BLUEOCEAN_CLIENT)/package-lock.json | system-deps
	cd $(BLUEOCEAN_CLIENT) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

bench: install
	$(BIN)/python benchmarks/render.py

clean:
	rm -rf $(VENV) build .pytest_cache .hypothesis
