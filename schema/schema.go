package schema

import "embed"

// FS holds every migration file at its root, in version order by name.
//
//go:embed *.sql
var FS embed.FS
