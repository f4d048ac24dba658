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

.PHONY: all test specs e2e lint bench golden render help

all: lint test

help:
	@echo "make test    - unit tests and specs (go test ./...)"
	@echo "make specs   - ginkgo ./specs on BACKEND=$(BACKEND), reports in $(REPORT_DIR)/"
	@echo "make e2e     - the specs on a kind cluster (needs Docker, kind node image, istioctl)"
	@echo "make lint    - gofmt and go vet"
	@echo "make bench   - benchmarks of the embedded backend, the Envoy model and the statistics"
	@echo "make golden  - refresh the committed golden files for review"

test:
	$(GO) test ./...

specs:
	@mkdir -p $(REPORT_DIR)
	$(GINKGO) --junit-report=junit.xml --json-report=report.json --output-dir=$(REPORT_DIR) \
		$(GINKGO_FLAGS) ./specs -- --backend=$(BACKEND) --report-dir=$(abspath $(REPORT_DIR)) $(SPEC_FLAGS)

e2e:
	$(MAKE) specs BACKEND=kind

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./framework/...

golden:
	$(GO) test ./framework/topology -run Golden -update
