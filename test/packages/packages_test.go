// Package packages checks that `make test` runs every package that has
// tests: it reads the `go test` commands of the Makefile's targets that
// `make test` reaches, expands their patterns with `go list`, and compares
// them with the packages that hold _test.go files. A package with tests that
// no target of `make test` runs has tests that never run, and so never fail.
package packages

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/incidentops/incident-operator"

// outsideMakeTest are the packages with tests that `make test` does not run,
// each with the target that does and why it cannot be part of `make test`.
var outsideMakeTest = map[string]struct{ target, why string }{
	module + "/test/node": {"test-node", "it runs a kubelet with containerd as root, and installs packages with apt-get"},
}

// makefile is what the checks read of a Makefile: each target's
// prerequisites and the targets and package patterns its recipe names.
type makefile struct {
	prerequisites map[string][]string
	// makes are the targets a recipe runs with $(MAKE).
	makes map[string][]string
	// patterns are the package patterns of a recipe's go test commands.
	patterns map[string][]string
}

var (
	// rule is the line that starts a rule: its targets, then after the
	// colon its prerequisites; a variable set with := is not one.
	rule = regexp.MustCompile(`^([A-Za-z0-9_./-]+(?:[ \t]+[A-Za-z0-9_./-]+)*)[ \t]*:([^=].*)?$`)
	// goTest is a go test command in a recipe, up to the end of its command.
	goTest = regexp.MustCompile(`(?:\$\(GO\)|\bgo)[ \t]+test\b([^;|&]*)`)
	// subMake is a recipe's run of make on other targets.
	subMake = regexp.MustCompile(`\$\(MAKE\)([^;|&]*)`)
)

// parseMakefile reads the rules of a Makefile: lines joined where they end
// in a backslash, a rule at the start of a line, its recipe in the lines
// after it that start with a tab.
func parseMakefile(text string) makefile {
	m := makefile{prerequisites: map[string][]string{}, makes: map[string][]string{}, patterns: map[string][]string{}}
	text = strings.ReplaceAll(text, "\\\n", " ")
	var targets []string
	scanner := bufio.NewScanner(strings.NewReader(text))
	scanner.Buffer(nil, 1<<20)
	for scanner.Scan() {
		line := scanner.Text()
		if recipe, ok := strings.CutPrefix(line, "\t"); ok {
			for _, target := range targets {
				for _, command := range goTest.FindAllStringSubmatch(recipe, -1) {
					for _, word := range strings.Fields(command[1]) {
						if word == "." || strings.HasPrefix(word, "./") {
							m.patterns[target] = append(m.patterns[target], word)
						}
					}
				}
				for _, command := range subMake.FindAllStringSubmatch(recipe, -1) {
					for _, word := range strings.Fields(command[1]) {
						if !strings.HasPrefix(word, "-") && !strings.Contains(word, "=") {
							m.makes[target] = append(m.makes[target], word)
						}
					}
				}
			}
			continue
		}
		line, _, _ = strings.Cut(line, "#")
		match := rule.FindStringSubmatch(line)
		if match == nil {
			if strings.TrimSpace(line) != "" {
				targets = nil
			}
			continue
		}
		targets = strings.Fields(match[1])
		if strings.HasPrefix(targets[0], ".") {
			targets = nil // .PHONY and the like
			continue
		}
		for _, target := range targets {
			m.prerequisites[target] = append(m.prerequisites[target], strings.Fields(match[2])...)
		}
	}
	return m
}

// reached are the targets that making target makes: itself, its
// prerequisites and the targets its recipe makes, and theirs.
func (m makefile) reached(target string) []string {
	seen := []string{}
	var visit func(string)
	visit = func(target string) {
		if slices.Contains(seen, target) {
			return
		}
		seen = append(seen, target)
		for _, next := range slices.Concat(m.prerequisites[target], m.makes[target]) {
			visit(next)
		}
	}
	visit(target)
	return seen
}

// patternsOf are the package patterns that making target runs go test on.
func (m makefile) patternsOf(target string) []string {
	var patterns []string
	for _, reached := range m.reached(target) {
		for _, pattern := range m.patterns[reached] {
			if !slices.Contains(patterns, pattern) {
				patterns = append(patterns, pattern)
			}
		}
	}
	return patterns
}

// goList runs go list with args from the repository's top directory, and
// returns the words it prints. A pattern that matches no package is an
// error: the target that names it runs less than it says.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || strings.Contains(stderr.String(), "matched no packages") {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.Fields(string(out))
}

// withTests are the packages of the module that hold _test.go files.
func withTests(t *testing.T) []string {
	t.Helper()
	lines := goList(t, "-f", "{{.ImportPath}} {{len .TestGoFiles}} {{len .XTestGoFiles}}", "./...")
	var out []string
	for i := 0; i+2 < len(lines); i += 3 {
		if lines[i+1] != "0" || lines[i+2] != "0" {
			out = append(out, lines[i])
		}
	}
	return out
}

// notRun are the packages of tested that are not in run.
func notRun(tested, run []string) []string {
	return slices.DeleteFunc(slices.Clone(tested), func(path string) bool { return slices.Contains(run, path) })
}

func TestMakeTestRunsEveryPackageWithTests(t *testing.T) {
	text, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := parseMakefile(string(text))
	patterns := m.patternsOf("test")
	if len(patterns) == 0 {
		t.Fatal("found no go test command in the targets make test makes: has the Makefile changed shape?")
	}
	run := goList(t, patterns...)
	tested := withTests(t)
	t.Logf("make test runs %d of the %d packages that have tests", len(tested)-len(notRun(tested, run)), len(tested))

	for _, path := range notRun(tested, run) {
		outside, ok := outsideMakeTest[path]
		if !ok {
			t.Errorf("%s has tests that make test does not run: add it to the go test command of a target make test makes (test-unit for unit tests)", path)
			continue
		}
		if patterns := m.patternsOf(outside.target); len(patterns) == 0 || !slices.Contains(goList(t, patterns...), path) {
			t.Errorf("%s is said to be run by make %s (make test cannot run it: %s), which does not run it", path, outside.target, outside.why)
		}
	}
	for path := range outsideMakeTest {
		switch {
		case !slices.Contains(tested, path):
			t.Errorf("%s is listed in outsideMakeTest but has no tests: take it off", path)
		case slices.Contains(run, path):
			t.Errorf("%s is listed in outsideMakeTest but make test runs it: take it off", path)
		}
	}
}

// The check must fail when a package is left out: it runs here on a
// made-up Makefile.
func TestPatternsOf(t *testing.T) {
	const text = `# A Makefile of the same shape.
GO ?= go
GOTEST_FLAGS ?= -count=1 -timeout=30m
export KUBEBUILDER_ASSETS := $(ENVTEST_DIR)

.PHONY: test
test: envtest vet test-unit test-e2e ## Everything.

.PHONY: vet
vet: ## go vet.
	$(GO) vet ./...

.PHONY: verify
verify: controller-gen
	$(MAKE) -s manifests test-generated

test-generated:
	$(GO) test ./test/generated/...

.PHONY: test-unit
test-unit: $(PROMTOOL) ## Unit tests.
	$(GO) test $(GOTEST_FLAGS) ./api/... \
		./internal/... ./cmd/...

FUZZ_TARGETS ?= ./internal/calendar:FuzzCalendar
fuzz:
	@for target in $(FUZZ_TARGETS); do pkg=$${target%%:*}; $(GO) test -run='^$$' -fuzz=. $$pkg; done

test-e2e: envtest ## End to end.
	$(GO) test $(GOTEST_FLAGS) ./test/e2e/... ./test/plugin/... && echo done ./not/a/package

.PHONY: test-node
test-node: envtest node
	IMG=$(IMG) $(GO) test $(GOTEST_FLAGS) -v ./test/node/...

$(PROMTOOL): $(LOCALBIN)
	GOBIN=$(LOCALBIN) $(GO) install github.com/prometheus/prometheus/cmd/promtool@v3
`
	m := parseMakefile(text)
	tests := map[string]struct {
		target string
		want   []string
	}{
		"make test":       {"test", []string{"./api/...", "./internal/...", "./cmd/...", "./test/e2e/...", "./test/plugin/..."}},
		"a target alone":  {"test-node", []string{"./test/node/..."}},
		"a recipe's make": {"verify", []string{"./test/generated/..."}},
		"fuzzing":         {"fuzz", nil},
		"go vet":          {"vet", nil},
		"no such target":  {"lint", nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := m.patternsOf(tc.target); !slices.Equal(got, tc.want) {
				t.Errorf("patternsOf(%q) = %q, want %q", tc.target, got, tc.want)
			}
		})
	}

	tested := []string{module + "/cmd/kubectl-incident", module + "/internal/audit", module + "/test/node", module + "/test/plugin"}
	run := []string{module + "/api/v1alpha1", module + "/cmd/kubectl-incident", module + "/internal/audit", module + "/test/plugin"}
	if got, want := notRun(tested, run), []string{module + "/test/node"}; !slices.Equal(got, want) {
		t.Errorf("notRun = %q, want %q", got, want)
	}
	withoutCmd := slices.DeleteFunc(slices.Clone(run), func(path string) bool { return strings.Contains(path, "/cmd/") })
	if got, want := notRun(tested, withoutCmd), []string{module + "/cmd/kubectl-incident", module + "/test/node"}; !slices.Equal(got, want) {
		t.Errorf("notRun without ./cmd/... = %q, want %q", got, want)
	}
}
