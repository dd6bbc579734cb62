# chatter — see README.md. Every target works on a fresh clone; tools are installed
# into ./bin from the Go module proxy.
GO          ?= go
BIN         := $(CURDIR)/bin
STATICCHECK := $(BIN)/staticcheck
STATICCHECK_VERSION := v0.8.2
PKGS        := ./...

.PHONY: dev test test-short bench lint cover fuzz build tidy clean

## dev: run chatter locally (offline interactive chat with devllm until the HTTP stack lands)
dev:
	$(GO) run ./cmd/chatter dev

## test: vet + every test with the race detector
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 8m $(PKGS)

## test-short: the tests without the race detector (quick loop)
test-short:
	$(GO) test -count=1 $(PKGS)

## bench: every benchmark (engine overhead, adapters' decode cost, tools)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS)

## lint: go vet + staticcheck
lint: $(STATICCHECK)
	$(GO) vet $(PKGS)
	$(STATICCHECK) $(PKGS)

$(STATICCHECK):
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## cover: total statement coverage of internal/
cover:
	$(GO) test -count=1 -coverprofile=cover.out ./internal/...
	$(GO) tool cover -func=cover.out | tail -1

## fuzz: a short run of every fuzz target
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParseValidate -fuzztime 30s ./internal/workflow
	$(GO) test -run '^$$' -fuzz FuzzCalculator -fuzztime 30s ./internal/tools

## build: the CLI into ./bin
build:
	$(GO) build -trimpath -o $(BIN)/chatter ./cmd/chatter

clean:
	rm -rf $(BIN) cover.out
