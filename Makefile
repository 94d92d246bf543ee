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

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzMatch -fuzztime 20s ./topic
