# Quick start: `make run` and `make test` on a fresh machine; both install what they need.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# Debian's groovy package finds Java through default-java.
export JAVA_HOME ?= /usr/lib/jvm/default-java

.PHONY: run test install system-deps lint bench clean

run: install
	$(BIN)/jenkins-sidecar render examples/java-maven.yml --context examples/context.yml --out build/java-maven
	@echo "Rendered examples/java-maven.yml into build/java-maven/ (Jenkinsfile, pod.yaml, config.xml)"

test: install system-deps
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest

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

bench: install
	$(BIN)/python benchmarks/render.py

clean:
	rm -rf $(VENV) build .pytest_cache .hypothesis
