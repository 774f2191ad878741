# The README's two commands: `make demo` and `make test`. Each sets up what it needs by itself.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
# pip warns about every package missing from this machine's extra local indexes; keep the log readable.
QUIET_PIP := sed -u '/WARNING: Location .* is ignored/d'
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed
APT_PACKAGES := iproute2 iptables nftables iputils-ping iputils-tracepath procps
export CDK_DISABLE_CLI_TELEMETRY := true
export CDK_DISABLE_VERSION_CHECK := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

.PHONY: demo test lint typecheck unit bench venv node system-packages synth clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check --upgrade pip 2>&1 | $(QUIET_PIP)
	$(PIP) install --quiet --disable-pip-version-check -e '.[cdk,dev]' 2>&1 | $(QUIET_PIP)
	@touch $(STAMP)

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

node: node_modules/.installed

# The network-namespace lab needs iproute2, iptables/nftables and ping. Installed when we are root and
# they are missing; tests that need them skip with the reason otherwise.
system-packages:
	@missing=""; \
	for tool in ip iptables nft ping tracepath; do command -v $$tool >/dev/null || missing=1; done; \
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
	$(VENV)/bin/ruff check lambdas cdk tests bench
	$(VENV)/bin/ruff format --check lambdas cdk tests bench

typecheck: venv
	$(VENV)/bin/mypy

test: venv node system-packages lint typecheck
	$(VENV)/bin/pytest -q -p no:cacheprovider

bench: venv system-packages
	$(PY) -m bench

synth: venv node
	npx cdk synth --quiet

clean:
	rm -rf $(VENV) node_modules cdk.out demo-output .mypy_cache .ruff_cache
