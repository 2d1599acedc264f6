// Package migrations ships the payment database schema. Files are applied
// in name order, each once, recorded in schema_migrations.
package migrations

import "embed"

// FS holds the numbered SQL migrations.
//
//go:embed *.sql
var FS embed.FS
