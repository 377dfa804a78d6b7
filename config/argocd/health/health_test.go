package health

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/incidentops/incident-operator/config/crd"
)

var update = flag.Bool("update", false, "rewrite ../argocd-cm-health.yaml from the scripts")

// fixture reads an object that test/gitops stored as the running operator
// wrote it. Its name is <kind>-<health>[-<what>].json.
func fixture(t *testing.T, name string) *unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(b); err != nil { // numbers as int64, as Argo CD holds them
		t.Fatal(err)
	}
	return u
}

func evaluate(t *testing.T, u *unstructured.Unstructured) Status {
	t.Helper()
	script, err := Script(u.GetKind())
	if err != nil {
		t.Fatalf("no health check for %s: %v", u.GetKind(), err)
	}
	got, err := Evaluate(script, u.Object)
	if err != nil {
		t.Fatalf("%s health check: %v", u.GetKind(), err)
	}
	return got
}

func conditionMessage(t *testing.T, u *unstructured.Unstructured, conditionType string) string {
	t.Helper()
	conditions, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conditions {
		if c := c.(map[string]any); c["type"] == conditionType {
			return c["message"].(string)
		}
	}
	t.Fatalf("%s has no %s condition", u.GetName(), conditionType)
	return ""
}

// fixtures are the stored objects, with the kind they are of.
func fixtures(t *testing.T) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no fixtures in testdata (%v): go test ./test/gitops -update stores them", err)
	}
	for i := range names {
		names[i] = filepath.Base(names[i])
	}
	return names
}

// Each object the operator wrote is judged as its conditions say, with the
// message of the condition that decides.
func TestHealthOfStoredObjects(t *testing.T) {
	decidedBy := map[string]string{"healthy": "Ready", "degraded": "Stalled", "progressing": "Reconciling"}
	for _, name := range fixtures(t) {
		t.Run(name, func(t *testing.T) {
			u := fixture(t, name)
			want := strings.Split(strings.TrimSuffix(name, ".json"), "-")[1]
			got := evaluate(t, u)
			if !strings.EqualFold(got.Status, want) {
				t.Errorf("health %s (%q), want %s", got.Status, got.Message, want)
			}
			switch u.GetKind() {
			case "AuditTrail":
				if !strings.HasSuffix(got.Message, " entries") {
					t.Errorf("message %q does not say how many entries the segment holds", got.Message)
				}
				return
			case "AuditBatch":
				if first, _, _ := unstructured.NestedInt64(u.Object, "spec", "first"); !strings.HasPrefix(got.Message, fmt.Sprintf("Entries from %d ", first)) {
					t.Errorf("message %q does not say where the batch begins (%d)", got.Message, first)
				}
				return
			}
			if wantMessage := conditionMessage(t, u, decidedBy[want]); got.Message != wantMessage {
				t.Errorf("message %q, want the %s condition's %q", got.Message, decidedBy[want], wantMessage)
			}
		})
	}
}

// An object whose current generation the operator has not reconciled yet
// is Progressing, whatever its conditions said of the one before; so is
// one it has not seen at all. A Stalled condition of the current
// generation stays Degraded even where status.observedGeneration lags.
func TestHealthBeforeTheOperatorHasLooked(t *testing.T) {
	for _, name := range fixtures(t) {
		u := fixture(t, name)
		if u.GetKind() == "AuditTrail" || u.GetKind() == "AuditBatch" {
			continue // written once by the operator, with no status
		}
		t.Run(name, func(t *testing.T) {
			changed := u.DeepCopy()
			changed.SetGeneration(u.GetGeneration() + 1)
			want := Status{Status: "Progressing", Message: fmt.Sprintf("Waiting for the operator to reconcile generation %d", u.GetGeneration()+1)}
			if got := evaluate(t, changed); got != want {
				t.Errorf("after a spec change: %+v, want %+v", got, want)
			}
			unseen := u.DeepCopy()
			unstructured.RemoveNestedField(unseen.Object, "status")
			want = Status{Status: "Progressing", Message: "Waiting for the operator to reconcile"}
			if got := evaluate(t, unseen); got != want {
				t.Errorf("without status: %+v, want %+v", got, want)
			}
			if strings.Contains(name, "-degraded") {
				lagging := u.DeepCopy()
				unstructured.RemoveNestedField(lagging.Object, "status", "observedGeneration")
				if got := evaluate(t, lagging); got.Status != "Degraded" {
					t.Errorf("Stalled of the current generation, observedGeneration unset: %+v, want Degraded", got)
				}
			}
		})
	}
}

// Every kind the CRDs define has a health check and a stored healthy object
// that the operator wrote, and every check in Kinds has its script.
func TestEveryKindHasAHealthCheck(t *testing.T) {
	files, err := crd.Bases.ReadDir("bases")
	if err != nil {
		t.Fatal(err)
	}
	var defined []string
	for _, f := range files {
		b, err := crd.Bases.ReadFile("bases/" + f.Name())
		if err != nil {
			t.Fatal(err)
		}
		var def struct {
			Spec struct {
				Names struct{ Kind string } `json:"names"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(b, &def); err != nil {
			t.Fatal(err)
		}
		defined = append(defined, def.Spec.Names.Kind)
	}
	stored := strings.Join(fixtures(t), " ")
	for _, kind := range defined {
		if !slices.Contains(Kinds, kind) {
			t.Errorf("kind %s has no Argo CD health check in Kinds", kind)
		}
		if !strings.Contains(stored, strings.ToLower(kind)+"-healthy") {
			t.Errorf("kind %s has no stored healthy object", kind)
		}
	}
	for _, kind := range Kinds {
		if _, err := Script(kind); err != nil {
			t.Errorf("kind %s: %v", kind, err)
		}
	}
}

// configMapPatch is argocd-cm-health.yaml: every check under its
// resource.customizations key, for kubectl patch.
func configMapPatch() (string, error) {
	var b strings.Builder
	b.WriteString("# Argo CD health checks of incident-operator's kinds, for argocd-cm:\n")
	b.WriteString("#   kubectl -n argocd patch configmap argocd-cm --type merge --patch-file config/argocd/argocd-cm-health.yaml\n")
	b.WriteString("# Written from config/argocd/health/*.lua by go test ./config/argocd/health -update.\n")
	b.WriteString("data:\n")
	kinds := slices.Clone(Kinds)
	slices.Sort(kinds)
	for _, kind := range kinds {
		script, err := Script(kind)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "  %s: |\n", ConfigMapKey(kind))
		for _, line := range strings.Split(strings.TrimSuffix(script, "\n"), "\n") {
			if line == "" {
				b.WriteString("\n")
				continue
			}
			b.WriteString("    " + line + "\n")
		}
	}
	return b.String(), nil
}

func TestConfigMapPatchHoldsTheScripts(t *testing.T) {
	want, err := configMapPatch()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "argocd-cm-health.yaml")
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s is stale: go test ./config/argocd/health -update", path)
	}
	// And YAML reads back each script as it is.
	var patch struct{ Data map[string]string }
	if err := yaml.UnmarshalStrict(got, &patch); err != nil {
		t.Fatal(err)
	}
	for _, kind := range Kinds {
		if script, _ := Script(kind); patch.Data[ConfigMapKey(kind)] != script {
			t.Errorf("%s does not read back as %s's script", ConfigMapKey(kind), kind)
		}
	}
}

// A script that errs or answers nonsense is caught the way Argo CD
// catches it, so the checks above cannot pass on a broken runner.
func TestEvaluateAsArgoCD(t *testing.T) {
	obj := map[string]any{"metadata": map[string]any{"generation": int64(2)}}
	tests := map[string]struct {
		script  string
		want    Status
		wantErr bool
	}{
		"numbers are numbers":    {script: `return {status = "Healthy", message = "generation " .. obj.metadata.generation + 1}`, want: Status{"Healthy", "generation 3"}},
		"no string library":      {script: `return {status = string.upper("healthy")}`, wantErr: true},
		"not a table":            {script: `return "Healthy"`, wantErr: true},
		"a status Argo CD lacks": {script: `return {status = "Fine"}`, want: Status{"Unknown", "Lua returned an invalid health status"}},
		"endless":                {script: `while true do end`, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Evaluate(tc.script, obj)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("%+v, want %+v", got, tc.want)
			}
		})
	}
}
