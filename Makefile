# The README's two commands: `make demo` and `make test`. Each sets up what it needs by itself.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
# pip warns about every package missing from this machine's extra local indexes; keep the log readable.
QUIET_PIP := sed -u '/WARNING: Location .* is ignored/d'
VENV := .venv
PY := $(VENV)/bin/python
# uv installs every environment from uv.lock. It is pinned and bootstrapped into .tools/ with the machine's
# Python, so a fresh clone needs nothing but python3 (3.11+), Node and apt.
UV_VERSION := 0.13.9
UV := .tools/bin/uv
UV_STAMP := .tools/.uv-$(UV_VERSION)
export UV_PROJECT_ENVIRONMENT := $(VENV)
# The lock is the truth: never re-resolve behind the developer's back (`make lock` does that on purpose).
UV_SYNC := $(UV) sync --frozen --all-extras --quiet
APT_PACKAGES := iproute2 iptables nftables iputils-ping iputils-tracepath procps chromium
export CDK_DISABLE_CLI_TELEMETRY := true
export CDK_DISABLE_VERSION_CHECK := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

.PHONY: demo test lint typecheck unit bench venv node system-packages synth clean lock upgrade docs docs-check dist

# The stamp names the version: changing UV_VERSION installs that uv on the next make.
$(UV_STAMP):
	@python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION) 2>&1 | $(QUIET_PIP)
	@touch $@

# Every target that runs project code syncs the venv to the lock first (a no-op in ~0.1 s when it matches).
venv: $(UV_STAMP)
	$(UV_SYNC)

# Re-resolve within pyproject.toml's ranges, on purpose, as a reviewed commit of its own (README, Development).
lock: $(UV_STAMP)
	$(UV) lock --upgrade
	$(UV_SYNC)

upgrade: lock

# The wheel and the plain install's locked versions, for a site host (docs/agent.md): `pip install -c`.
dist: $(UV_STAMP)
	rm -rf dist build/lib
	$(UV) build --wheel --out-dir dist --quiet
	$(UV) export --frozen --no-dev --no-emit-project --no-hashes --no-header --no-annotate \
	  --format requirements-txt -o dist/constraints.txt --quiet

# npm ci installs exactly package-lock.json (the pinned CDK CLI), like uv sync --frozen for Python.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

node: node_modules/.installed

# The network-namespace lab needs iproute2, iptables/nftables and ping, the report's browser test chromium.
# Installed when we are root and they are missing; tests that need them skip with the reason otherwise.
system-packages:
	@missing=""; \
	for tool in ip iptables nft ping tracepath chromium; do command -v $$tool >/dev/null || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $(APT_PACKAGES)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null) \
	      || echo "warning: could not install $(APT_PACKAGES); the netns tests will skip"; \
	  else echo "note: not root or no apt-get; the netns tests will skip"; fi; \
	fi

demo: venv
	$(VENV)/bin/dropsleuth demo --out demo-output

lint: venv
	$(VENV)/bin/ruff check lambdas cdk tests bench docs/hooks
	$(VENV)/bin/ruff format --check lambdas cdk tests bench docs/hooks

typecheck: venv
	$(VENV)/bin/mypy

test: venv node system-packages lint typecheck docs-check
	$(VENV)/bin/pytest -q -p no:cacheprovider

bench: venv system-packages
	$(PY) -m bench

# The documentation site (mkdocs.yml), built into site/. --strict fails on a broken link or anchor, or a
# missing page (never --quiet: it hides the very warnings --strict counts).
export NO_MKDOCS_2_WARNING := 1
docs: venv
	$(VENV)/bin/mkdocs build --strict

docs-check: venv
	@out=$$(mktemp -d); trap 'rm -rf "$$out"' EXIT; $(VENV)/bin/mkdocs build --strict --site-dir "$$out"

synth: venv node
	npx cdk synth --quiet

clean:
	rm -rf $(VENV) .tools dist node_modules cdk.out demo-output site .mypy_cache .ruff_cache
