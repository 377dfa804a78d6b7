// Package version holds what the build stamped into the binary, so that a
// running operator and its image can say which source they came from.
//
//	go build -ldflags "-X github.com/incidentops/incident-operator/internal/version.Version=v0.1.0 \
//	  -X github.com/incidentops/incident-operator/internal/version.Commit=$(git rev-parse HEAD)"
//
// `make build` and `make image` stamp both.
package version

import "fmt"

// Version is the release, such as v0.1.0, or what `git describe` says of an
// unreleased tree.
var Version = "unknown"

// Commit is the git commit the binary was built from.
var Commit = "unknown"

// String is the one line that `--version` prints.
func String() string {
	return fmt.Sprintf("incident-operator %s (commit %s)", Version, Commit)
}
