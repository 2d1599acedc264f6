# payment-dr: `make synth` (the main job) and `make test` (every test).
# Node 22 from node_modules runs the jsii kernel behind the CDK Go module.
export PATH := $(CURDIR)/tools/node_modules/.bin:$(PATH)
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

CONFIG ?= config/dev.json
OUT    ?= cdk.out
GO_SOURCES := $(shell find cmd internal -name '*.go' -not -name '*_test.go') go.mod go.sum

# The Lambda binaries are built reproducibly (-trimpath, empty build id) so
# the asset hash changes only when the code does.
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags='-s -w -buildid='

.PHONY: synth test lambda lint bench clean

tools/node_modules/.installed: tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund --loglevel=error
	touch $@

build/payments/bootstrap: $(GO_SOURCES) $(wildcard certs/*.pem)
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build $(LAMBDA_FLAGS) -o $@ ./cmd/payments
	@if [ -f certs/rds-ca-bundle.pem ]; then cp certs/rds-ca-bundle.pem build/payments/; \
	else echo "note: certs/rds-ca-bundle.pem is absent; the deployed Lambda will refuse to start until it is added (see README)"; fi

build/drctl-evaluate/bootstrap: $(GO_SOURCES)
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build $(LAMBDA_FLAGS) -o $@ ./cmd/drctl-evaluate

lambda: build/payments/bootstrap build/drctl-evaluate/bootstrap

synth: tools/node_modules/.installed lambda
	go run ./cmd/synth -config $(CONFIG) -out $(OUT)

lint:
	@test -z "$$(gofmt -l cmd internal bench)" || { gofmt -l cmd internal bench; echo 'gofmt: files above need formatting'; exit 1; }
	go vet ./...
	go tool staticcheck ./...

test: tools/node_modules/.installed lambda lint
	scripts/test.sh

bench: tools/node_modules/.installed lambda
	scripts/bench.sh

clean:
	rm -rf build $(OUT) .test-backends
