// Package rbac checks that the operator's shipped RBAC holds no grant that
// no test needs: `make test` runs every test binary that runs the operator
// as its ServiceAccount, each records the grants its requests used
// (internal/testenv), and this test, run after them, compares their union
// with config/default.
package rbac

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/incidentops/incident-operator/internal/testenv"
)

// requestVerbs are the verbs the API server's audit log names. Any other
// verb granted (seal, append, import...) is one that an admission policy
// checks with the authoriser, and must be named in config/admission.
var requestVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}

func TestEveryGrantOfTheOperatorIsUsed(t *testing.T) {
	dir := os.Getenv(testenv.GrantsUsedDir)
	if dir == "" {
		t.Fatalf("%s is not set: run `make test`, which runs every test of the operator first and records the grants they used", testenv.GrantsUsedDir)
	}
	files, err := filepath.Glob(filepath.Join(dir, "grants-*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no grants recorded in %s (%v): the tests that run the operator did not run", dir, err)
	}
	used := map[string]bool{}
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		scanner := bufio.NewScanner(f)
		for scanner.Scan() {
			used[scanner.Text()] = true
		}
		f.Close()
	}
	admission := admissionText(t)

	objects, err := testenv.OperatorRBAC()
	if err != nil {
		t.Fatal(err)
	}
	granted := 0
	for _, obj := range objects {
		if obj.GetKind() != "Role" && obj.GetKind() != "ClusterRole" {
			continue
		}
		rules, _, _ := unstructured.NestedSlice(obj.Object, "rules")
		for _, r := range rules {
			rule, _ := r.(map[string]any)
			for _, group := range stringsOf(rule["apiGroups"]) {
				for _, resource := range stringsOf(rule["resources"]) {
					for _, verb := range stringsOf(rule["verbs"]) {
						granted++
						grant := verb + " " + group + "/" + resource
						switch {
						case !slices.Contains(requestVerbs, verb):
							if !regexp.MustCompile(`['"]` + regexp.QuoteMeta(verb) + `['"]`).MatchString(admission) {
								t.Errorf("%s %s grants %q, which no admission policy in config/admission checks", obj.GetKind(), obj.GetName(), grant)
							}
						case verb == "list" && used["watch "+group+"/"+resource]:
							// An informer streams its initial list in a
							// watch; client-go lists instead from an API
							// server that does not stream.
						case !used[grant]:
							t.Errorf("%s %s grants %q, which no test's operator used: remove it, or test what needs it", obj.GetKind(), obj.GetName(), grant)
						}
					}
				}
			}
		}
	}
	t.Logf("%d grants of the shipped RBAC checked against %d used by the operator in %d test binaries", granted, len(used), len(files))
}

func admissionText(t *testing.T) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testenv.AdmissionDir(), "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(data)
	}
	return all.String()
}

func stringsOf(v any) []string {
	items, _ := v.([]any)
	out := make([]string, 0, len(items))
	for _, item := range items {
		if s, ok := item.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
