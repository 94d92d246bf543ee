# mqtls: the two commands are `make run` (a secure broker with a dev PKI) and
# `make test` (the whole suite, with the real programs as oracles).
GO ?= go
BIN := bin/mqtls

.PHONY: build run test bench compare lint fuzz

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

lint:
	@test -z "$$(gofmt -l .)" || (gofmt -l .; echo "gofmt needed"; exit 1)
	$(GO) vet ./...

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
