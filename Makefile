# mqtls: the two commands are `make run` (a secure broker with a dev PKI) and
# `make test` (the whole suite, with the real programs as oracles).
GO ?= go
BIN := bin/mqtls

# `make install` puts mqtls in $(PREFIX)/bin and its shell completions where
# bash, zsh and fish look for them; DESTDIR stages the tree for packaging.
PREFIX ?= /usr/local
DESTDIR ?=
# `mqtls version` prints these; `go install ./cmd/mqtls` works too, without them.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.Version=$(VERSION) -X main.Commit=$(COMMIT)

.PHONY: build install uninstall run test bench compare lint tools fuzz

# The linters, installed through the Go module proxy by `make tools` (and by
# CI) at these versions.
STATICCHECK_VERSION ?= v0.8.2
GOVULNCHECK_VERSION ?= v1.9.0
TOOLS := $(shell $(GO) env GOPATH)/bin

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/mqtls

install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/mqtls
	$(DESTDIR)$(PREFIX)/bin/mqtls completion bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/mqtls
	$(DESTDIR)$(PREFIX)/bin/mqtls completion zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_mqtls
	$(DESTDIR)$(PREFIX)/bin/mqtls completion fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/mqtls.fish

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/mqtls $(DESTDIR)$(PREFIX)/share/bash-completion/completions/mqtls \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_mqtls $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/mqtls.fish

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
