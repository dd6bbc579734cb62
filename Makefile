# chatter — see README.md. Every target works on a fresh clone; tools are installed
# into ./bin from the Go module proxy.
GO          ?= go
BIN         := $(CURDIR)/bin
STATICCHECK := $(BIN)/staticcheck
STATICCHECK_VERSION := v0.8.2
PKGS        := ./...
RIE         := $(BIN)/aws-lambda-rie
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
# Every Lambda: one directory per function under functions/ (see template.yaml).
FUNCTIONS   := $(patsubst functions/%/main.go,%,$(wildcard functions/*/main.go))
# PROVIDERS chooses the LLM SDKs `make build` and `make sizes` link into the
# functions that run workflows: all (Bedrock, OpenAI, Anthropic; the default) or
# bedrock (Bedrock only, -tags chatter_nosdk: smaller and quicker to start, see the
# README's Performance). The sam build targets below ignore it: template.yaml has both
# builds of those functions and its Providers parameter deploys one.
PROVIDERS   ?= all
ifeq ($(filter $(PROVIDERS),all bedrock),)
$(error PROVIDERS must be all or bedrock, not "$(PROVIDERS)")
endif
lambda_flags = -trimpath -ldflags "-s -w" -tags "lambda.norpc$(if $(filter bedrock,$(1)), chatter_nosdk)"
LAMBDA_FLAGS := $(call lambda_flags,$(PROVIDERS))

.PHONY: dev load test test-short bench bench-engine bench-all sizes sizes-build lint cover fuzz build build-cli functions generate rie cfn-lint tidy clean

## dev: the local stack — API on 127.0.0.1:8080 (PORT=...), moto or AWS_ENDPOINT_URL, events delivered
PORT ?= 8080
# Without any OpenAI/Anthropic variable set, the dev binary leaves those two SDKs out
# (-tags chatter_nosdk): a first build takes ~40 s instead of ~2 min on 2 cores.
PROVIDER_VARS := OPENAI_API_KEY OPENAI_API_KEY_SECRET_ID OPENAI_API_KEY_PARAMETER OPENAI_BASE_URL \
	ANTHROPIC_API_KEY ANTHROPIC_API_KEY_SECRET_ID ANTHROPIC_API_KEY_PARAMETER
DEV_TAGS := $(if $(strip $(foreach v,$(PROVIDER_VARS),$($(v)))),,-tags chatter_nosdk)

dev:
	$(GO) run $(DEV_TAGS) ./cmd/chatter dev --port $(PORT)

## load: 100 concurrent executions (half streaming) against a dev stack of its own; not part of test
load:
	$(GO) run ./cmd/chatter load

## test: vet + every test with the race detector (the RIE tests need ./bin/aws-lambda-rie) + cfn-lint
test: $(RIE) cfn-lint
	$(GO) vet $(PKGS)
	$(GO) vet -tags chatter_nosdk ./internal/llm/providers ./cmd/chatter
	$(GO) test -count=1 -tags chatter_nosdk -run '^TestNoSDK' ./internal/llm/providers
	$(GO) test -race -count=1 -timeout 8m $(PKGS)

## cfn-lint: lint template.yaml (SAM transform included)
cfn-lint:
	@command -v cfn-lint >/dev/null || { echo "cfn-lint is not installed: pip install cfn-lint" >&2; exit 1; }
	cfn-lint template.yaml

## rie: the Lambda Runtime Interface Emulator into ./bin (for the RIE tests)
rie: $(RIE)

$(RIE):
	GOBIN=$(BIN) $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

## generate: functions/*/main.go, events/*.json and template.yaml's functions from internal/lambdaapp/gen
generate:
	$(GO) generate ./internal/lambdaapp

## test-short: the tests without the race detector (quick loop)
test-short:
	$(GO) test -count=1 $(PKGS)

# PEERS is shared/peers (eino-bench, coldstart), beside the repository by default.
PEERS ?= ../shared/peers

## bench: every Step 14 figure as a ratio to the peers in one run: the engine against eino-bench (interleaved rounds, medians of per-round ratios; instructions under callgrind), then what make sizes measures
bench: $(RIE) sizes-build
	$(GO) run ./internal/perf bench -peers $(PEERS) $(SIZES_ARGS)

## bench-engine: only the engine's rows of make bench (no builds, no cold starts)
bench-engine:
	$(GO) run ./internal/perf bench -peers $(PEERS)

## bench-all: every benchmark (engine overhead, adapters' decode cost, tools)
bench-all:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 $(PKGS)

## sizes: every function built as deployed (PROVIDERS too): stripped linux/arm64 size, and INIT of the host build under the RIE against the peers' hello and SDK bootstraps; with PROVIDERS=all the chat functions' Bedrock-only builds too
sizes: $(RIE) sizes-build
	$(GO) run ./internal/perf sizes -peers $(PEERS) $(SIZES_ARGS)

# The chat functions, whose Bedrock-only builds (template.yaml's
# Providers=bedrock) sizes-build adds when PROVIDERS=all.
CHAT_FUNCTIONS := chat chat-stream
SIZES_ARGS = -rie $(RIE) -build build/sizes -deployed build/sizes-arm64 \
	$(if $(filter all,$(PROVIDERS)),-bedrock build/sizes-bedrock -bedrock-deployed build/sizes-bedrock-arm64)

# sizes-build: every function with the deployed flags, for this host and linux/arm64
sizes-build:
	rm -rf build/sizes build/sizes-arm64 build/sizes-bedrock build/sizes-bedrock-arm64
	CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o build/sizes/ $(addprefix ./functions/,$(FUNCTIONS))
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o build/sizes-arm64/ $(addprefix ./functions/,$(FUNCTIONS))
ifeq ($(PROVIDERS),all)
	CGO_ENABLED=0 $(GO) build $(call lambda_flags,bedrock) -o build/sizes-bedrock/ $(addprefix ./functions/,$(CHAT_FUNCTIONS))
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(call lambda_flags,bedrock) -o build/sizes-bedrock-arm64/ $(addprefix ./functions/,$(CHAT_FUNCTIONS))
endif

## lint: go vet + staticcheck
lint: $(STATICCHECK)
	$(GO) vet $(PKGS)
	$(STATICCHECK) $(PKGS)

$(STATICCHECK):
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## cover: total statement coverage of internal/ (code exercised by any package's tests counts)
cover:
	$(GO) test -count=1 -coverpkg=./internal/... -coverprofile=cover.out ./internal/...
	$(GO) tool cover -func=cover.out | tail -1

## fuzz: a short run of every fuzz target (FuzzConditionEval compiles and evaluates conditions within their budgets)
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseValidate$$' -fuzztime 30s ./internal/workflow
	$(GO) test -run '^$$' -fuzz '^FuzzConditionEval$$' -fuzztime 30s ./internal/workflow
	$(GO) test -run '^$$' -fuzz '^FuzzCalculator$$' -fuzztime 30s ./internal/tools
	$(GO) test -run '^$$' -fuzz '^FuzzParseKey$$' -fuzztime 30s ./internal/documents/blob

## build: every function's bootstrap into build/<name>/bootstrap (linux/arm64, as deployed) and the CLI
build: functions build-cli

## functions: build/<name>/bootstrap for each function (one go build, then one directory each)
functions:
	rm -rf build/.bin
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(LAMBDA_FLAGS) -o build/.bin/ $(addprefix ./functions/,$(FUNCTIONS))
	@for f in $(FUNCTIONS); do mkdir -p build/$$f && mv build/.bin/$$f build/$$f/bootstrap; done
	rm -rf build/.bin
	@ls -l build/*/bootstrap | awk '{printf "%8.2f MiB  %s\n", $$5/1048576, $$NF}'

# sam build (BuildMethod: makefile) runs `make build-<LogicalId>` in the CodeUri
# folder (the repository root) with ARTIFACTS_DIR set: one target per function,
# named as template.yaml names it (functions/on-event-record -> OnEventRecordFunction),
# linking all providers; build-<Id>BedrockFunction builds the same function Bedrock
# only (template.yaml's Bedrock-only builds, functions/chat -> ChatBedrockFunction).
SAM_IDS := $(shell printf '%s\n' $(FUNCTIONS) | awk -F- '{s=""; for (i=1; i<=NF; i++) s=s toupper(substr($$i,1,1)) substr($$i,2); print s "Function"}')
SAM_PAIRS := $(join $(FUNCTIONS),$(addprefix :,$(SAM_IDS)))
# sam_dir: the functions/ folder of a logical id (ChatFunction -> chat).
sam_dir = $(word 1,$(subst :, ,$(filter %:$(1),$(SAM_PAIRS))))
check_artifacts = @test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (sam build sets it)" >&2; exit 1; }

build-%BedrockFunction:
	$(check_artifacts)
	@test -n "$(call sam_dir,$*Function)" || { echo "no function $*Function in functions/" >&2; exit 1; }
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(call lambda_flags,bedrock) -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(call sam_dir,$*Function)

build-%Function:
	$(check_artifacts)
	@test -n "$(call sam_dir,$*Function)" || { echo "no function $*Function in functions/" >&2; exit 1; }
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(call lambda_flags,all) -o $(ARTIFACTS_DIR)/bootstrap ./functions/$(call sam_dir,$*Function)

## build-cli: the CLI into ./bin
build-cli:
	$(GO) build -trimpath -o $(BIN)/chatter ./cmd/chatter

clean:
	rm -rf $(BIN) build cover.out
