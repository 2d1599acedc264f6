// This go.mod only marks tools/ as a separate module so that `go ... ./...`
// at the root does not descend into tools/node_modules (the CDK CLI ships
// template .go files that are not valid Go).
module github.com/payment-dr/payment-dr/tools

go 1.26
