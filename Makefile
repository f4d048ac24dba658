# locality-e2e. `make test` runs every Go test (unit tests and the specs on
# the embedded backend); `make specs` runs the specs with Ginkgo and writes
# reports. See README.md.

GO         ?= go
GINKGO     ?= $(GO) run github.com/onsi/ginkgo/v2/ginkgo
BACKEND    ?= embedded
REPORT_DIR ?= reports
# Extra Ginkgo flags, e.g. GINKGO_FLAGS='--label-filter=locality:failover -v'
GINKGO_FLAGS ?=
# Extra suite flags after --, e.g. SPEC_FLAGS='--istio-logs'
SPEC_FLAGS ?=
# Parallel Ginkgo processes for make specs on the embedded backend: -p (one
# per core up to 4; 2 here, each with its share of GOMAXPROCS) cuts the
# suite's wall time by half on 2 cores, since one process leaves a core
# idle while a spec waits on istiod (docs/performance.md). SPECS_PARALLEL=
# runs one process.
# make e2e (kind) always runs one: mesh-wide settings are held by one
# scenario at a time.
SPECS_PARALLEL ?= -p
# The suite Ginkgo runs: the package (compiled by Ginkgo), or the test
# binary `make specs-bin` compiled beforehand (SPECS_PKG=specs/specs.test;
# Ginkgo runs a precompiled suite in its folder, specs/, as it runs the
# package).
SPECS_PKG ?= ./specs
# Recipes read every user-given value from the environment ("$$REPORT_DIR")
# and never paste it into shell code ($(REPORT_DIR)), so a value with a
# space, a quote or `;` is one word, never a command. GINKGO_FLAGS and
# SPEC_FLAGS are lists: left unquoted they split into words (still never
# run as code).
export GO GINKGO BACKEND REPORT_DIR GINKGO_FLAGS SPEC_FLAGS SPECS_PKG SPECS_PARALLEL

.PHONY: all test specs specs-bin e2e lint bench golden render help

all: lint test

help:
	@echo "make test    - unit tests and specs (go test ./...)"
	@printf '%s\n' "make specs   - ginkgo ./specs on BACKEND=$$BACKEND, reports in $$REPORT_DIR/ (index.html: the page to open)"
	@echo "make e2e     - the specs on a kind cluster (needs Docker, kind node image, istioctl)"
	@echo "make specs-bin - compile the specs and Ginkgo beforehand (then make e2e SPECS_PKG=specs/specs.test GINKGO=\$$PWD/bin/ginkgo)"
	@echo "make e2e-plan - print what make e2e does on its cluster: image preload, workload image, Istio install"
	@echo "make e2e-multicluster-plan - print every step of the multi-cluster kind setup (nothing is run)"
	@echo "make workload-image WORKLOAD_IMAGE=<ref> - build cmd/workload's image to push for an existing cluster"
	@echo "make upgrade-check FROM=<v> TO=<v> [CANARY=1] - specs before/after an Istio upgrade on kind, fingerprint diff"
	@echo "make upgrade-check-embedded FROM=<istio.io/istio version> TO=<v> - the specs against two istiod versions in process, fingerprint diff (no cluster)"
	@echo "make lint    - gofmt and go vet"
	@echo "make bench   - benchmarks of the embedded backend, the Envoy model and the statistics"
	@echo "make golden  - refresh the committed golden files for review"

test:
	"$$GO" test ./...

# The suite writes $(REPORT_DIR)/index.html (framework/report); its path is
# printed last, whether the specs passed or not.
specs:
	@mkdir -p -- "$$REPORT_DIR"
	@rm -f -- "$$REPORT_DIR/index.html"
	@case "$$REPORT_DIR" in /*) abs="$$REPORT_DIR";; *) abs="$$(pwd)/$$REPORT_DIR";; esac; \
	par=; if [ "$$BACKEND" = embedded ]; then par="$$SPECS_PARALLEL"; fi; \
	set -f; set -x; $$GINKGO --junit-report=junit.xml --json-report=report.json --output-dir="$$REPORT_DIR" \
		$$par $$GINKGO_FLAGS "$$SPECS_PKG" -- --backend="$$BACKEND" --report-dir="$$abs" $$SPEC_FLAGS; \
	{ status=$$?; set +x; } 2>/dev/null; \
	if [ -f "$$REPORT_DIR/index.html" ]; then echo "report page: $$abs/index.html (open it in a browser: file://$$abs/index.html)"; \
	else echo "no report page was written (the suite did not reach its report)"; fi; \
	exit $$status

# --- kind backend -----------------------------------------------------------
ISTIO_VERSION  ?= 1.32.0
ISTIOCTL       ?= $(CURDIR)/bin/istioctl-$(ISTIO_VERSION)
ISTIO_RELEASES ?= https://github.com/istio/istio/releases/download
# Istio's version grammar (framework/kind istioVersionGrammar): a version
# becomes part of a path (bin/istioctl-<version>) and a URL.
ISTIO_VERSION_RE := (0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-(alpha|beta|rc)(\.(0|[1-9][0-9]*))?)?
export ISTIO_VERSION ISTIOCTL ISTIO_RELEASES ISTIO_VERSION_RE

# Release asset names: linux-amd64, linux-arm64, osx (amd64), osx-arm64.
ISTIO_OS    := $(shell uname -s | sed 's/Darwin/osx/;s/Linux/linux/')
ISTIO_ARCH  := $(shell uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/')
ISTIO_ASSET := istioctl-$(ISTIO_VERSION)-$(if $(filter osx-amd64,$(ISTIO_OS)-$(ISTIO_ARCH)),osx,$(ISTIO_OS)-$(ISTIO_ARCH)).tar.gz
export ISTIO_ASSET

# The workload pods run cmd/workload (framework/workload). The suite builds
# its image itself (go build, docker build FROM scratch) and loads it into
# the kind nodes; `make e2e-plan` lists those steps. workload-image builds
# the same image by hand, to push for an existing cluster:
#   make workload-image WORKLOAD_IMAGE=registry.example/le2e/workload:v1
#   docker push registry.example/le2e/workload:v1
#   LOCALITY_E2E_WORKLOAD_IMAGE=registry.example/le2e/workload:v1 LOCALITY_E2E_KUBECONFIG=... make e2e
# LOCALITY_E2E_WORKLOAD_IMAGE=helloworld selects istio's sample (slow, no 5xx).
WORKLOAD_IMAGE  ?= locality-e2e.local/workload:dev
WORKLOAD_GOARCH ?= $(ISTIO_ARCH)
export WORKLOAD_IMAGE WORKLOAD_GOARCH

.PHONY: istioctl docker-check upgrade-check workload-image e2e-plan e2e-multicluster-plan

# The specs on a kind cluster the suite creates (Docker needed), or on the
# cluster of LOCALITY_E2E_KUBECONFIG. See docs/kind.md "Running on kind" and its
# "Time budget" (≈ 29–56 min estimated; the workflows' step and job limits
# are derived from E2E_TIMEOUT, TestWorkflowsTimeBudget checks them).
E2E_TIMEOUT ?= 80m
export E2E_TIMEOUT
e2e: docker-check istioctl
	"$(MAKE)" specs BACKEND=kind GINKGO_FLAGS="--timeout=$$E2E_TIMEOUT $$GINKGO_FLAGS"

# The specs' test binary and the Ginkgo CLI, compiled before a run so that
# Ginkgo's --timeout does not include a compile of istio.io/istio (≈ 10 min
# cold on 2 cores): make e2e SPECS_PKG=specs/specs.test GINKGO=$(CURDIR)/bin/ginkgo
specs-bin:
	$(GO) test -c -o specs/specs.test ./specs
	$(GO) build -o bin/ginkgo github.com/onsi/ginkgo/v2/ginkgo

# What e2e does on the cluster it creates, in order (framework/kind
# SetupPlan, for the nightly's settings: LOCALITY_E2E_PRELOAD_IMAGES=true):
# Istio's images (pilot, proxyv2 from LOCALITY_E2E_ISTIO_HUB) and the
# topologies' pulled once and loaded into every node, the workload image
# built and loaded, then istioctl install with the same hub and tag.
e2e-plan:
	@"$$GO" test ./framework/kind -run '^TestSetupPlan$$' -count=1 -v | sed -n 's/^ *setupplan_test.go:[0-9]*: /  /p'

# What a multi-cluster setup runs, in order: every kind config, istioctl
# and kubectl argv and rendered YAML, for the suite's multi-cluster
# topologies that LOCALITY_E2E_KIND_MULTICLUSTER selects (a topology name;
# unset or 1: the first one). Nothing is run.
e2e-multicluster-plan:
	@"$$GO" run ./cmd/locality-e2e kind-plan

workload-image:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	CGO_ENABLED=0 GOOS=linux GOARCH="$$WORKLOAD_GOARCH" "$$GO" build -trimpath -ldflags='-s -w' -o "$$tmp/workload" ./cmd/workload; \
	cp cmd/workload/Dockerfile "$$tmp/Dockerfile"; \
	docker build --tag "$$WORKLOAD_IMAGE" "$$tmp"

# Fail in seconds, before any download, when kind cannot run here. The
# suite checks again (framework/kind.CheckDocker).
docker-check:
	@if [ -z "$$LOCALITY_E2E_KUBECONFIG" ]; then \
	  if ! command -v docker >/dev/null 2>&1; then \
	    echo "kind backend needs a running Docker engine, and no docker CLI is on PATH."; \
	    echo "Use 'make specs' (embedded backend) or LOCALITY_E2E_KUBECONFIG=<path> for an existing cluster."; exit 1; fi; \
	  if ! out=$$(timeout 10 docker info --format '{{.ServerVersion}}' 2>&1); then \
	    echo "kind backend needs a running Docker engine: $$(echo "$$out" | tail -1)"; \
	    echo "Use 'make specs' (embedded backend) or LOCALITY_E2E_KUBECONFIG=<path> for an existing cluster."; exit 1; fi; \
	fi

# istioctl $(ISTIO_VERSION) into bin/, checked against the release's sha256.
# istioctl is phony, not a rule for the file $(ISTIOCTL): a version in a
# rule line would be read by make itself (`;` starts a recipe). The version
# is checked from the environment ("$$ISTIO_VERSION", exported above) before
# anything else, never pasted into the shell code; only then are the paths
# and the asset name (built from it) used.
istioctl:
	@if ! printf '%s\n' "$$ISTIO_VERSION" | grep -Eqx "$$ISTIO_VERSION_RE"; then \
	  printf 'ISTIO_VERSION="%s" is not an Istio release version: use MAJOR.MINOR.PATCH with an optional -alpha, -beta or -rc suffix\n' "$$ISTIO_VERSION"; exit 2; fi
	@if [ -x "$$ISTIOCTL" ]; then "$$ISTIOCTL" version --remote=false; exit 0; fi; \
	mkdir -p -- "$$(dirname -- "$$ISTIOCTL")"; \
	set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	url="$$ISTIO_RELEASES/$$ISTIO_VERSION/$$ISTIO_ASSET"; \
	echo "downloading $$url"; \
	curl -fsSL --connect-timeout 20 -o "$$tmp/$$ISTIO_ASSET" "$$url"; \
	curl -fsSL --connect-timeout 20 -o "$$tmp/sha256" "$$url.sha256"; \
	want=$$(cut -d' ' -f1 < "$$tmp/sha256"); \
	got=$$( (sha256sum "$$tmp/$$ISTIO_ASSET" 2>/dev/null || shasum -a 256 "$$tmp/$$ISTIO_ASSET") | cut -d' ' -f1); \
	if [ "$$want" != "$$got" ]; then echo "sha256 mismatch for $$ISTIO_ASSET: got $$got, want $$want"; exit 1; fi; \
	tar -xzf "$$tmp/$$ISTIO_ASSET" -C "$$tmp" istioctl; \
	mv "$$tmp/istioctl" "$$ISTIOCTL"; chmod +x "$$ISTIOCTL"; \
	"$$ISTIOCTL" version --remote=false

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	"$$GO" vet ./...

bench:
	"$$GO" test -run '^$$' -bench . -benchmem ./framework/...

golden:
	"$$GO" test ./framework/topology -run Golden -update
	"$$GO" test ./specs -count=1 -args --update-golden

# --- Istio upgrade check on kind ----------------------------------------------
# make upgrade-check FROM=1.27.3 TO=1.28.0 [CANARY=1] [UPGRADE_FLAGS=--keep-cluster]
FROM   ?=
TO     ?=
CANARY ?=
UPGRADE_REPORT_DIR ?= $(REPORT_DIR)/upgrade
UPGRADE_FLAGS      ?=

# ISTIOCTL is passed explicitly: this Makefile exports ISTIOCTL, and the
# sub-make's `ISTIOCTL ?=` would otherwise keep the exported value.
# FROM and TO are checked from the environment before anything runs (and
# before docker-check), never pasted into shell code.
export FROM TO CANARY UPGRADE_REPORT_DIR UPGRADE_FLAGS
upgrade-check: upgrade-check-versions docker-check
	"$(MAKE)" istioctl ISTIO_VERSION="$$FROM" ISTIOCTL="$$(pwd)/bin/istioctl-$$FROM"
	"$(MAKE)" istioctl ISTIO_VERSION="$$TO" ISTIOCTL="$$(pwd)/bin/istioctl-$$TO"
	@case "$$CANARY" in 1|true|yes) canary=--canary;; *) canary=;; esac; \
	set -x; GINKGO_FLAGS="--timeout=90m $$GINKGO_FLAGS" "$$GO" run ./cmd/upgrade-check \
		--from="$$FROM" --to="$$TO" \
		--istioctl-from="$$(pwd)/bin/istioctl-$$FROM" --istioctl-to="$$(pwd)/bin/istioctl-$$TO" \
		--report-dir="$$UPGRADE_REPORT_DIR" $$canary $$UPGRADE_FLAGS

# --- Istio upgrade check, embedded (no cluster) --------------------------------
# make upgrade-check-embedded FROM=<istio.io/istio version> TO=<version> [UPGRADE_SEED=1]
# (module versions, Istio tags or branch names; docs/upgrades.md). The
# values reach the command through the environment only: it validates
# them before they reach a path or an argv.
UPGRADE_EMBEDDED_REPORT_DIR ?= $(REPORT_DIR)/upgrade-embedded
UPGRADE_SEED ?= 1
# UPGRADE_EXPECT_CHANGED=<file>: the changes the comparison must report,
# exactly (--expect-changed; .ci/run's worked example).
UPGRADE_EXPECT_CHANGED ?=
export UPGRADE_EMBEDDED_REPORT_DIR UPGRADE_SEED UPGRADE_EXPECT_CHANGED
.PHONY: upgrade-check-embedded
upgrade-check-embedded:
	LOCALITY_E2E_UPGRADE_FROM="$$FROM" LOCALITY_E2E_UPGRADE_TO="$$TO" \
	LOCALITY_E2E_UPGRADE_REPORT_DIR="$$UPGRADE_EMBEDDED_REPORT_DIR" LOCALITY_E2E_UPGRADE_SEED="$$UPGRADE_SEED" \
	LOCALITY_E2E_UPGRADE_EXPECT_CHANGED="$$UPGRADE_EXPECT_CHANGED" \
		"$$GO" run ./cmd/upgrade-check embedded

.PHONY: upgrade-check-versions
upgrade-check-versions:
	@if [ -z "$$FROM" ] || [ -z "$$TO" ]; then echo "usage: make upgrade-check FROM=<version> TO=<version> [CANARY=1]"; exit 2; fi
	@for v in "$$FROM" "$$TO"; do \
	  if ! printf '%s\n' "$$v" | grep -Eqx "$$ISTIO_VERSION_RE"; then \
	    printf 'upgrade-check: "%s" is not an Istio release version: use MAJOR.MINOR.PATCH with an optional -alpha, -beta or -rc suffix, e.g. 1.32.0\n' "$$v"; exit 2; fi; \
	done
