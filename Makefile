# mqtls: the two commands are `make run` (a secure broker with a dev PKI) and
# `make test` (the whole suite, with the real programs as oracles).
GO ?= go
BIN := bin/mqtls

.PHONY: build run test bench compare lint tools fuzz

# The linters, installed through the Go module proxy by `make tools` (and by
# CI) at these versions.
STATICCHECK_VERSION ?= v0.8.2
GOVULNCHECK_VERSION ?= v1.9.0
TOOLS := $(shell $(GO) env GOPATH)/bin

build:
	$(GO) build -o $(BIN) ./cmd/mqtls

run: build
	./$(BIN) broker

test:
	$(GO) vet ./...
	$(GO) test -race -timeout 25m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./...

compare: build
	bash bench/compare.sh

tools:
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)

# gofmt, vet, a tidy go.mod, staticcheck and govulncheck. govulncheck needs
# the Go vulnerability database on the network: where it cannot be reached,
# lint says so and skips that one check (a vulnerability found fails).
lint:
	@test -z "$$(gofmt -l .)" || (gofmt -l .; echo "gofmt needed"; exit 1)
	$(GO) vet ./...
	@$(GO) mod tidy -diff || (echo "go.mod is not tidy: run go mod tidy"; exit 1)
	@test -x $(TOOLS)/staticcheck || (echo "staticcheck is missing: run make tools"; exit 1)
	$(TOOLS)/staticcheck ./...
	@test -x $(TOOLS)/govulncheck || (echo "govulncheck is missing: run make tools"; exit 1)
	@bash .ci/govulncheck.sh $(TOOLS)/govulncheck

# Each fuzzer runs for FUZZTIME; the seed corpora also run in every `make test`.
FUZZTIME ?= 20s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzMatch$$' -fuzztime $(FUZZTIME) ./topic
	$(GO) test -run '^$$' -fuzz '^FuzzLint$$' -fuzztime $(FUZZTIME) ./topic
	$(GO) test -run '^$$' -fuzz '^FuzzParseScheme$$' -fuzztime $(FUZZTIME) ./topic
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./dynsec
	$(GO) test -run '^$$' -fuzz '^FuzzControl$$' -fuzztime $(FUZZTIME) ./dynsec
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./conf
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeLine$$' -fuzztime $(FUZZTIME) ./ca
	$(GO) test -run '^$$' -fuzz '^FuzzFormat$$' -fuzztime $(FUZZTIME) ./client
