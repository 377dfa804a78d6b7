// Package crd carries the CustomResourceDefinitions that controller-gen
// generates into bases/, so that code can read the schemas the API server
// enforces instead of restating them.
package crd

import "embed"

// Bases holds bases/*.yaml, one CustomResourceDefinition a file, as
// `make manifests` writes them.
//
//go:embed bases/*.yaml
var Bases embed.FS
