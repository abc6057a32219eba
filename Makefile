# Build, test and publish the spot-balancer Kubewarden policy.
#
# `make run` evaluates an example executor; `make check` installs what the
# tests need and runs every test suite.

CARGO ?= cargo
# The Kubewarden CLI: a real kwctl when one is on PATH, else the project's
# own compatible host.
HOST_BIN := target/debug/spot-balancer-host
KWCTL ?= $(or $(shell command -v kwctl 2>/dev/null),$(CURDIR)/$(HOST_BIN))
# Where `make push` publishes the module, e.g. REGISTRY=localhost:5000/policies,
# and optionally kwctl's sources file, e.g. one listing that registry under
# insecure_sources; without it kwctl reads ~/.config/kubewarden/sources.yaml.
REGISTRY ?=
SOURCES ?=
VERSION ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)

POLICY_SOURCES := $(shell find src -name '*.rs') Cargo.toml Cargo.lock
MODULE := target/wasm32-wasip1/wasm-release/spot_balancer.wasm

.PHONY: all
all: policy.wasm

.PHONY: setup
setup:
	./scripts/setup

# Evaluates the example executor and shows the decision and the patched pod.
EXAMPLE_REQUEST := examples/executor-admission-review.json
EXAMPLE_SETTINGS := {"defaultSpotRatio": "BALANCED"}

.PHONY: run
run:
	./scripts/setup run
	$(MAKE) policy.wasm host
	$(KWCTL) run --request-path $(EXAMPLE_REQUEST) --settings-json '$(EXAMPLE_SETTINGS)' \
		policy.wasm | ./scripts/show-decision $(EXAMPLE_REQUEST)

policy.wasm: $(POLICY_SOURCES)
	$(CARGO) build --target wasm32-wasip1 --profile wasm-release -p spot-balancer
	cp $(MODULE) $@

# The host is built first in case it is the KWCTL in use; order-only, so a
# fresh module is not annotated again.
annotated-policy.wasm: policy.wasm policy-metadata.yml README.md | host
	$(KWCTL) annotate -m policy-metadata.yml -u README.md -o $@ policy.wasm

# The host, built as `cargo test --workspace` builds it: every package with
# its tests, so one feature set. Building the host alone would unify
# features differently and compile wasmtime a second time in `make check`.
.PHONY: host
host:
	$(CARGO) build --workspace --tests

# Plays a 200-executor job losing ten spot nodes in every placement mode,
# side by side: id-only and kubernetes, and redis on a throwaway
# redis-server when one is installed; writes simulation.csv and .svg.
SIMULATION := --executors 200 --interruptions 10 --interruption-interval 2 --node-size 8 \
	--csv simulation.csv --svg simulation.svg

.PHONY: simulate
simulate: policy.wasm host
	./scripts/simulate $(HOST_BIN) $(SIMULATION) policy.wasm

.PHONY: fmt
fmt:
	$(CARGO) fmt --all -- --check

.PHONY: lint
lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

.PHONY: test
test: fmt lint policy.wasm
	$(CARGO) test --workspace

.PHONY: e2e-tests
e2e-tests: policy.wasm annotated-policy.wasm host
	KWCTL="$(KWCTL)" bats e2e-tests

.PHONY: check
check: setup test e2e-tests

# Measures one admission against the baselines and the module's size under
# several release profiles; rewrites BENCHMARKS.md.
.PHONY: bench
bench: setup
	./scripts/bench

.PHONY: push
push: annotated-policy.wasm
	@test -n "$(REGISTRY)" || { echo "set REGISTRY, e.g. make push REGISTRY=localhost:5000/policies"; exit 2; }
	$(KWCTL) push $(if $(SOURCES),--sources-path $(SOURCES)) annotated-policy.wasm \
		registry://$(REGISTRY)/spot-balancer:v$(VERSION)

.PHONY: clean
clean:
	$(CARGO) clean
	rm -f policy.wasm annotated-policy.wasm simulation.csv simulation.svg
