// Package imports holds the rules on which packages may import which, checked
// on the import graph `go list` reports for the whole module:
//
//   - a package under internal/ is pure logic, and reaches no Kubernetes
//     client, unless it is named in talksToTheAPIServer with its reason. A new
//     package is held to the rule until someone says why it must not be;
//   - nothing under cmd/ (the kubectl plugin, its tests included) reaches the
//     controllers: a command runs the operator's decisions from internal/.
package imports

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/incidentops/incident-operator"

// talksToTheAPIServer are the packages under internal/ whose job is to read
// or write through the API server, each with why.
var talksToTheAPIServer = map[string]string{
	module + "/internal/receiver":       "SecretReader reads the Secrets a receiver names by GET through a client.Reader; the rest of the package uses the Secrets interface",
	module + "/internal/testenv":        "starts etcd and kube-apiserver for the integration and end-to-end tests, and hands them clients of it",
	module + "/internal/policytest":     "reads the policy files' objects through gather, over an in-memory client, so that routing reads them as it reads the operator's cache",
	module + "/internal/routing/gather": "reads what routing decides from (policies, a namespace's labels, assets, departments) through a client.Reader: the operator's cache, the user's API server, or files",
}

// isKubernetesClient says whether a package is, or is part of, a client of
// the API server. sigs.k8s.io/controller-runtime/pkg/scheme is not: the API
// types build their scheme with it, and it imports nothing but apimachinery.
func isKubernetesClient(path string) bool {
	switch {
	case path == "k8s.io/client-go", strings.HasPrefix(path, "k8s.io/client-go/"):
		return true
	case path == "sigs.k8s.io/controller-runtime/pkg/scheme":
		return false
	case path == "sigs.k8s.io/controller-runtime", strings.HasPrefix(path, "sigs.k8s.io/controller-runtime/"):
		return true
	}
	return false
}

// isControllers says whether a package is the operator's controllers.
func isControllers(path string) bool {
	return path == module+"/controllers" || strings.HasPrefix(path, module+"/controllers/")
}

// graph is what each package imports, by import path.
type graph map[string][]string

// violation is a package that reaches a forbidden one, by the chain of
// imports from the first to the last.
type violation struct {
	chain []string
}

func (v violation) String() string { return strings.Join(v.chain, " -> ") }

// reaching finds, for each of roots, the shortest chain of imports in g that
// ends at a package forbidden says it may not reach. A root that is itself
// forbidden is not reported: the rules are about what a package imports.
func reaching(g graph, roots []string, forbidden func(string) bool) []violation {
	var found []violation
	for _, root := range roots {
		from := map[string]string{root: ""}
		queue := []string{root}
		for len(queue) > 0 {
			path := queue[0]
			queue = queue[1:]
			if path != root && forbidden(path) {
				chain := []string{path}
				for p := from[path]; p != ""; p = from[p] {
					chain = append(chain, p)
				}
				slices.Reverse(chain)
				found = append(found, violation{chain: chain})
				break
			}
			for _, imported := range g[path] {
				if _, seen := from[imported]; !seen {
					from[imported] = path
					queue = append(queue, imported)
				}
			}
		}
	}
	return found
}

// pure is every package of internal that is not named in allowed.
func pure(internal []string, allowed map[string]string) []string {
	return slices.DeleteFunc(slices.Clone(internal), func(path string) bool {
		_, ok := allowed[path]
		return ok
	})
}

// listed is what `go list -json` says of one package.
type listed struct {
	ImportPath string
	Imports    []string
	DepOnly    bool
}

// load runs `go list -deps -json` on patterns from the repository's top
// directory, and returns the packages they match and the import graph of
// those and all they import. With tests, the graph holds what the matched
// packages' tests import too: go list names a package compiled for a test
// "path [path.test]", which load counts as path itself.
func load(t *testing.T, tests bool, patterns ...string) ([]string, graph) {
	t.Helper()
	args := []string{"list", "-deps", "-json"}
	if tests {
		args = append(args, "-test")
	}
	cmd := exec.Command("go", append(args, patterns...)...)
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, stderr.String())
	}
	var matched []string
	g := graph{}
	decoder := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := decoder.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading go list's output: %v", err)
		}
		if strings.HasSuffix(p.ImportPath, ".test") {
			continue // the generated main package of a test binary
		}
		path := withoutTestVariant(p.ImportPath)
		for _, imported := range p.Imports {
			if imported = withoutTestVariant(imported); !slices.Contains(g[path], imported) {
				g[path] = append(g[path], imported)
			}
		}
		if !p.DepOnly && !slices.Contains(matched, path) {
			matched = append(matched, path)
		}
	}
	return matched, g
}

// withoutTestVariant is the import path of a package that go list names as
// compiled for a test: "path [path.test]" is path.
func withoutTestVariant(path string) string {
	path, _, _ = strings.Cut(path, " [")
	return path
}

func TestInternalPackagesArePure(t *testing.T) {
	internal, g := load(t, false, "./internal/...")
	for path := range talksToTheAPIServer {
		if !slices.Contains(internal, path) {
			t.Errorf("%s is allowed to talk to the API server, but there is no such package: take it off talksToTheAPIServer", path)
		} else if len(reaching(g, []string{path}, isKubernetesClient)) == 0 {
			t.Errorf("%s is allowed to talk to the API server, but imports no client: take it off talksToTheAPIServer", path)
		}
	}
	for _, v := range reaching(g, pure(internal, talksToTheAPIServer), isKubernetesClient) {
		t.Errorf("%s is pure logic but imports a Kubernetes client: %s\n"+
			"Take the client out (pass the objects in, or an interface the caller implements), "+
			"or, if talking to the API server is the package's job, name it in talksToTheAPIServer with why.", v.chain[0], v)
	}
}

func TestCommandsDoNotImportTheControllers(t *testing.T) {
	commands, g := load(t, true, "./cmd/...")
	if len(commands) == 0 {
		t.Fatal("go list found no package under cmd/")
	}
	for _, v := range reaching(g, commands, isControllers) {
		t.Errorf("%s imports the controllers: %s\n"+
			"A command runs the operator's decisions from the internal/ package that holds them; move what it needs there.", v.chain[0], v)
	}
}

// The rules must fail when they are broken: the checks run here on made-up
// import graphs.
func TestReaching(t *testing.T) {
	const (
		calendar   = module + "/internal/calendar"
		lifecycle  = module + "/internal/lifecycle"
		receiver   = module + "/internal/receiver"
		testenv    = module + "/internal/testenv"
		api        = module + "/api/v1alpha1"
		plugin     = module + "/cmd/kubectl-incident"
		controller = module + "/controllers"
		client     = "sigs.k8s.io/controller-runtime/pkg/client"
		scheme     = "sigs.k8s.io/controller-runtime/pkg/scheme"
		rest       = "k8s.io/client-go/rest"
		meta       = "k8s.io/apimachinery/pkg/apis/meta/v1"
		pluginTest = plugin + "_test"
	)
	tests := map[string]struct {
		graph     graph
		roots     []string
		forbidden func(string) bool
		want      []string
	}{
		"pure packages importing the API types and apimachinery": {
			graph:     graph{lifecycle: {calendar, api, "time"}, api: {scheme, meta}, calendar: {"time"}},
			roots:     []string{calendar, lifecycle},
			forbidden: isKubernetesClient,
		},
		"a pure package importing the client": {
			graph:     graph{calendar: {"time", client}, client: {rest}},
			roots:     []string{calendar},
			forbidden: isKubernetesClient,
			want:      []string{calendar + " -> " + client},
		},
		"a pure package reaching client-go through another package": {
			graph:     graph{lifecycle: {calendar}, calendar: {module + "/internal/clock"}, module + "/internal/clock": {rest}},
			roots:     []string{lifecycle},
			forbidden: isKubernetesClient,
			want:      []string{lifecycle + " -> " + calendar + " -> " + module + "/internal/clock -> " + rest},
		},
		"a pure package importing controller-runtime itself": {
			graph:     graph{calendar: {"sigs.k8s.io/controller-runtime"}},
			roots:     []string{calendar},
			forbidden: isKubernetesClient,
			want:      []string{calendar + " -> sigs.k8s.io/controller-runtime"},
		},
		"an allowed package is not a root, so its client is not reported": {
			graph:     graph{receiver: {client}, testenv: {rest}, calendar: {"time"}},
			roots:     pure([]string{calendar, receiver, testenv}, talksToTheAPIServer),
			forbidden: isKubernetesClient,
		},
		"a pure package importing an allowed one reaches its client": {
			graph:     graph{lifecycle: {receiver}, receiver: {client}},
			roots:     pure([]string{lifecycle, receiver}, talksToTheAPIServer),
			forbidden: isKubernetesClient,
			want:      []string{lifecycle + " -> " + receiver + " -> " + client},
		},
		"the plugin using a client and the pure packages": {
			graph:     graph{pluginTest: {plugin, "testing"}, plugin: {client, lifecycle}, lifecycle: {api}},
			roots:     []string{pluginTest},
			forbidden: isControllers,
		},
		"the plugin importing the controllers": {
			graph:     graph{pluginTest: {plugin}, plugin: {lifecycle, controller}},
			roots:     []string{pluginTest},
			forbidden: isControllers,
			want:      []string{pluginTest + " -> " + plugin + " -> " + controller},
		},
		"the plugin's tests importing a package of the controllers": {
			graph:     graph{pluginTest: {plugin, controller + "/gather"}, plugin: {lifecycle}},
			roots:     []string{pluginTest},
			forbidden: isControllers,
			want:      []string{pluginTest + " -> " + controller + "/gather"},
		},
		"an import cycle in the graph ends": {
			graph:     graph{calendar: {lifecycle}, lifecycle: {calendar}},
			roots:     []string{calendar},
			forbidden: isKubernetesClient,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, v := range reaching(tc.graph, tc.roots, tc.forbidden) {
				got = append(got, v.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestIsKubernetesClient(t *testing.T) {
	for path, want := range map[string]bool{
		"k8s.io/client-go":                               true,
		"k8s.io/client-go/kubernetes":                    true,
		"sigs.k8s.io/controller-runtime":                 true,
		"sigs.k8s.io/controller-runtime/pkg/client":      true,
		"sigs.k8s.io/controller-runtime/pkg/client/fake": true,
		"sigs.k8s.io/controller-runtime/pkg/manager":     true,
		"sigs.k8s.io/controller-runtime/pkg/scheme":      false,
		"k8s.io/apimachinery/pkg/runtime":                false,
		"k8s.io/api/core/v1":                             false,
		"k8s.io/client-go-like/other":                    false,
		"sigs.k8s.io/controller-runtime-tools":           false,
		module + "/internal/receiver":                    false,
		"k8s.io/utils/clock":                             false,
	} {
		if got := isKubernetesClient(path); got != want {
			t.Errorf("isKubernetesClient(%q) = %v, want %v", path, got, want)
		}
	}
}
