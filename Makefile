# Ciro node. `make devnet` runs a local network; `make test` runs every test.
# Go is the only toolchain; the targets install what else they need.

GO        ?= go
BIN       := bin
PKGS      := ./...
# Packages with goroutines of their own run under the race detector. The multi-process tests
# (node/e2e) run once, without it: their goroutines live in the ciro-node processes they start.
# One of them, a small devnet on a race build of ciro-node, exists only under -race:
#   go test -race -run '^TestDevnetUnderRace$$' ./node/e2e/
# It is not in `test` yet: its run time on the CI machine is not measured.
RACE_PKGS := ./consensus/... ./node ./node/api/... ./node/sequencer/... ./node/devnet/... ./simulation/... ./p2p/... ./storage/... ./market/... ./compute/... ./chain/...
FUZZTIME  ?= 60s
# The version the binary reports (/status, --version), stamped at link time.
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS   := -X github.com/ciro-network/ciro-node/node.version=$(VERSION)

.PHONY: all build test test-fuzz-short fuzz bench devnet lint tidy clean chromium

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

test: build lint chromium
	$(GO) test -count=1 -timeout 25m $(PKGS)
	$(GO) test -count=1 -race -timeout 20m -short $(RACE_PKGS)
	$(MAKE) test-fuzz-short

# The simulation's index-page test opens it in headless Chromium; CI starts on a fresh machine.
chromium:
	@command -v chromium >/dev/null || { apt-get update && apt-get install -y chromium; }

# Each fuzz target gets a short run in `make test`, a long one in `make fuzz`.
test-fuzz-short:
	@FUZZTIME=3s ./scripts/fuzz.sh

fuzz:
	@FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

bench: build
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m $(PKGS) | tee bench.out | grep '^BENCH' || true

devnet: build
	$(BIN)/ciro-node devnet

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	$(GO) vet $(PKGS)

tidy:
	$(GO) mod tidy

clean:
	rm -rf $(BIN) bench.out
