# memproxy build. `make help` lists the targets.

# FTS5 (go-sqlite3 build tag) for the memory store's full-text index; exported
# so every go command make runs (build, test, vet, bench) compiles it in. The
# flags already set for go (environment or `go env -w`) are kept.
GOFLAGS ?= $(shell go env GOFLAGS)
GOFLAGS += -tags=sqlite_fts5
export GOFLAGS

GO        ?= go
GO_TOOL   := $(GO) tool -modfile=tools/go.mod
BIN       := bin
PKGS      := ./...
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/memproxy/memproxy/internal/version.Version=$(VERSION)

.PHONY: help build test bench lint proto proto-check demo demo-stop release clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build bin/memgateway and bin/memedge
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/memgateway ./cmd/memedge

test: ## run every test (unit, services, end to end) and list what was skipped and why; what .ci/run calls
	$(GO) run ./test/testsummary -count=1 -timeout 15m $(PKGS)

bench: build ## loopback load test + Go benchmarks; prints latency, errors, CPU and RSS
	$(GO) test -run '^$$' -bench . -benchmem ./gateway/... ./edge/... ./config/... ./proto/...
	$(GO) run ./test/bench -bin $(BIN)
	$(GO) run ./test/bench/chunklat -bin $(BIN)

lint: proto-check ## gofmt check, go vet, proto drift, import boundaries
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go' | grep -v '\.pb\.go$$')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -run 'TestDeps' ./test/

proto-check: ## fail if the committed gRPC code differs from what proto/ generates
	@if ! command -v protoc >/dev/null; then echo "protoc not installed (apt-get install protobuf-compiler): proto drift not checked"; exit 0; fi; \
	$(MAKE) --no-print-directory proto >/dev/null && git diff --exit-code -- proto/ || { echo "proto/: generated code is stale; run make proto and commit"; exit 1; }

proto: ## regenerate the committed gRPC code from proto/ (needs protoc)
	PATH="$$(dirname $$($(GO_TOOL) -n protoc-gen-go)):$$(dirname $$($(GO_TOOL) -n protoc-gen-go-grpc)):$$PATH" \
	  protoc -I proto --go_out=proto --go_opt=paths=source_relative \
	    --go-grpc_out=proto --go-grpc_opt=paths=source_relative \
	    proto/memproxy/v1/gateway.proto

demo: build ## start the gateway on embedded defaults and an edge for project "demo"
	@./scripts/demo.sh

demo-stop: ## stop what make demo started
	@./scripts/demo-stop.sh

release: ## build memedge (macOS, Linux, Windows) and memgateway (Linux) into dist/VERSION with SHA256SUMS and install.sh
	@./scripts/release.sh $(VERSION)

clean: ## remove build output
	rm -rf $(BIN) dist
