package chart

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/incidentops/incident-operator/internal/testenv"
)

// The chart must install what config/ holds: `make manifests` copies it
// into the chart (make chart), and this test fails when the copy is stale
// or a template changes what it copies. Objects are compared parsed, so
// formatting and key order do not matter.

func TestChartInstallsTheCRDsOfConfig(t *testing.T) {
	checkCRDs(t, byKindAndName(render(t)), readConfig(t, "crd/bases/*.yaml"))
}

func checkCRDs(t reporter, rendered map[string]*unstructured.Unstructured, want []*unstructured.Unstructured) {
	if len(want) == 0 {
		t.Errorf("config/crd/bases holds no CRD")
	}
	for _, crd := range want {
		got, ok := rendered[key("CustomResourceDefinition", crd.GetName())]
		if !ok {
			t.Errorf("the chart does not install CRD %s: run make chart", crd.GetName())
			continue
		}
		if diff := difference(crd.Object["spec"], got.Object["spec"], "spec"); diff != "" {
			t.Errorf("CRD %s differs from config/crd/bases (run make chart): %s", crd.GetName(), diff)
		}
		if keep := got.GetAnnotations()["helm.sh/resource-policy"]; keep != "keep" {
			t.Errorf("CRD %s: helm.sh/resource-policy = %q, want keep, so that helm uninstall leaves the incidents", crd.GetName(), keep)
		}
	}
	if n := countKind(rendered, "CustomResourceDefinition"); n != len(want) {
		t.Errorf("the chart installs %d CRDs, config/crd/bases holds %d", n, len(want))
	}
}

// Every Role, ClusterRole and binding of config/rbac, with the same rules,
// aggregation labels and subjects.
func TestChartGrantsTheRBACOfConfig(t *testing.T) {
	checkRBAC(t, byKindAndName(render(t)), readConfig(t, "rbac/*.yaml"))
}

func checkRBAC(t reporter, rendered map[string]*unstructured.Unstructured, config []*unstructured.Unstructured) {
	serviceAccount := release + "-controller-manager"
	roles := 0
	for _, want := range config {
		kind := want.GetKind()
		if kind == "ServiceAccount" {
			continue
		}
		name := release + "-" + want.GetName()
		got, ok := rendered[key(kind, name)]
		if !ok {
			t.Errorf("the chart has no %s %s for config/rbac's %s: run make chart", kind, name, want.GetName())
			continue
		}
		if want.GetNamespace() != "" && got.GetNamespace() != namespace {
			t.Errorf("%s %s: namespace %q, want the release's, %s", kind, name, got.GetNamespace(), namespace)
		}
		switch kind {
		case "Role", "ClusterRole":
			roles++
			if diff := difference(want.Object["rules"], got.Object["rules"], "rules"); diff != "" {
				t.Errorf("%s %s: rules differ from config/rbac's %s: %s", kind, name, want.GetName(), diff)
			}
			if diff := difference(want.Object["aggregationRule"], got.Object["aggregationRule"], "aggregationRule"); diff != "" {
				t.Errorf("%s %s: %s", kind, name, diff)
			}
			for label, value := range want.GetLabels() {
				if strings.HasPrefix(label, "rbac.authorization.k8s.io/") && got.GetLabels()[label] != value {
					t.Errorf("%s %s: label %s = %q, want %q as config/rbac has it", kind, name, label, got.GetLabels()[label], value)
				}
			}
		default: // a binding
			ref, _, _ := unstructured.NestedStringMap(want.Object, "roleRef")
			ref["name"] = release + "-" + ref["name"]
			gotRef, _, _ := unstructured.NestedStringMap(got.Object, "roleRef")
			if !reflect.DeepEqual(ref, gotRef) {
				t.Errorf("%s %s: roleRef %v, want %v", kind, name, gotRef, ref)
			}
			subjects, _, _ := unstructured.NestedSlice(got.Object, "subjects")
			want := []any{map[string]any{"kind": "ServiceAccount", "name": serviceAccount, "namespace": namespace}}
			if !reflect.DeepEqual(subjects, want) {
				t.Errorf("%s %s: subjects %v, want the chart's service account %v", kind, name, subjects, want)
			}
		}
	}
	if roles == 0 {
		t.Errorf("config/rbac holds no role")
	}
	if n := countKind(rendered, "Role") + countKind(rendered, "ClusterRole"); n != roles {
		t.Errorf("the chart installs %d roles, config/rbac holds %d: every role must come from config/rbac", n, roles)
	}
	if _, ok := rendered[key("ServiceAccount", serviceAccount)]; !ok {
		t.Errorf("the chart has no ServiceAccount %s", serviceAccount)
	}
}

func TestChartInstallsTheAdmissionPoliciesOfConfig(t *testing.T) {
	checkAdmission(t, byKindAndName(render(t)), readConfig(t, "admission/*.yaml"))
	if off := render(t, "admissionPolicies.install=false", "crds.install=false"); countKind(byKindAndName(off), "ValidatingAdmissionPolicy")+countKind(byKindAndName(off), "CustomResourceDefinition") != 0 {
		t.Error("admissionPolicies.install=false and crds.install=false still install policies or CRDs")
	}
}

func checkAdmission(t reporter, rendered map[string]*unstructured.Unstructured, want []*unstructured.Unstructured) {
	for _, policy := range want {
		got, ok := rendered[key(policy.GetKind(), policy.GetName())]
		if !ok {
			t.Errorf("the chart does not install %s %s: run make chart", policy.GetKind(), policy.GetName())
			continue
		}
		if diff := difference(policy.Object["spec"], got.Object["spec"], "spec"); diff != "" {
			t.Errorf("%s %s differs from config/admission: %s", policy.GetKind(), policy.GetName(), diff)
		}
	}
	n := 0
	for _, kind := range []string{"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"} {
		n += countKind(rendered, kind)
	}
	if n != len(want) {
		t.Errorf("the chart installs %d admission objects, config/admission holds %d", n, len(want))
	}
}

// reporter is what the checks above report to: the test, or a recorder
// when a test makes sure a stale chart is caught.
type reporter interface {
	Errorf(format string, args ...any)
}

type recorder []string

func (r *recorder) Errorf(format string, args ...any) { *r = append(*r, fmt.Sprintf(format, args...)) }

// The checks fail on a chart whose copy of config/ is stale: a CRD's
// validation, a verb of the operator's role and an admission policy's
// failure policy each changed in config/ but not in the chart.
func TestDriftChecksCatchAStaleChart(t *testing.T) {
	stale := copyChart(t)
	edit := func(file string, pattern, replacement string) {
		t.Helper()
		path := filepath.Join(stale, "files", file)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		loc := regexp.MustCompile(pattern).FindIndex(data)
		if loc == nil {
			t.Fatalf("%s has no %s", file, pattern)
		}
		data = slices.Concat(data[:loc[0]], []byte(replacement), data[loc[1]:])
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	edit("crd/security.incidentops.io_incidents.yaml", `maxLength: [0-9]+`, "maxLength: 7")
	edit("rbac/role.yaml", `  - watch\n`, "")
	edit("admission/legal-hold.yaml", `failurePolicy: Fail`, "failurePolicy: Ignore")
	rendered := byKindAndName(renderChart(t, stale))

	for name, check := range map[string]struct {
		run  func(reporter)
		want string
	}{
		"CRDs":      {func(r reporter) { checkCRDs(r, rendered, readConfig(t, "crd/bases/*.yaml")) }, "CRD incidents.security.incidentops.io differs"},
		"RBAC":      {func(r reporter) { checkRBAC(r, rendered, readConfig(t, "rbac/*.yaml")) }, "ClusterRole incident-operator-manager-role: rules differ"},
		"admission": {func(r reporter) { checkAdmission(r, rendered, readConfig(t, "admission/*.yaml")) }, "ValidatingAdmissionPolicy incident-legal-hold.security.incidentops.io differs"},
	} {
		var r recorder
		check.run(&r)
		if !slices.ContainsFunc(r, func(s string) bool { return strings.Contains(s, check.want) }) {
			t.Errorf("%s: the check of a stale chart reported %q, want %q", name, r, check.want)
		}
	}
}

func TestChartInstallsTheMonitoringOfConfig(t *testing.T) {
	rendered := byKindAndName(render(t, "prometheusRule.enabled=true", "grafanaDashboard.enabled=true"))
	want := readConfig(t, "monitoring/prometheusrule.yaml")[0]
	got, ok := rendered[key("PrometheusRule", release)]
	if !ok {
		t.Fatal("prometheusRule.enabled=true renders no PrometheusRule")
	}
	if diff := difference(want.Object["spec"], got.Object["spec"], "spec"); diff != "" {
		t.Errorf("the chart's PrometheusRule differs from config/monitoring: %s", diff)
	}
	dashboard, ok := rendered[key("ConfigMap", release+"-dashboard")]
	if !ok {
		t.Fatal("grafanaDashboard.enabled=true renders no ConfigMap")
	}
	file, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "monitoring", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	data, _, _ := unstructured.NestedStringMap(dashboard.Object, "data")
	if data["incident-operator.json"] != string(file) {
		t.Error("the dashboard ConfigMap does not hold config/monitoring/grafana-dashboard.json: run make chart")
	}
	if dashboard.GetLabels()["grafana_dashboard"] != "1" {
		t.Errorf("the dashboard ConfigMap's labels %v lack grafana_dashboard=1, which Grafana's sidecar looks for", dashboard.GetLabels())
	}
}

func key(kind, name string) string { return kind + "/" + name }

func byKindAndName(objects []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	m := map[string]*unstructured.Unstructured{}
	for _, obj := range objects {
		m[key(obj.GetKind(), obj.GetName())] = obj
	}
	return m
}

func countKind(objects map[string]*unstructured.Unstructured, kind string) int {
	n := 0
	for k := range objects {
		if strings.HasPrefix(k, kind+"/") {
			n++
		}
	}
	return n
}

// difference names the first place where want and got differ, with both
// values, or is empty when they are equal. JSON numbers are compared by
// value, whichever Go type decoding gave them.
func difference(want, got any, path string) string {
	want, got = normalise(want), normalise(got)
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: got %s, want an object", path, brief(got))
		}
		keys := make([]string, 0, len(w)+len(g))
		for k := range w {
			keys = append(keys, k)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			if d := difference(w[k], g[k], path+"."+k); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Sprintf("%s: got %s, want a list", path, brief(got))
		}
		for i := range max(len(w), len(g)) {
			var wi, gi any
			if i < len(w) {
				wi = w[i]
			}
			if i < len(g) {
				gi = g[i]
			}
			if d := difference(wi, gi, fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	default:
		if !reflect.DeepEqual(want, got) {
			return fmt.Sprintf("%s: got %s, want %s", path, brief(got), brief(want))
		}
		return ""
	}
}

// normalise turns every number into float64.
func normalise(v any) any {
	switch n := v.(type) {
	case int64:
		return float64(n)
	case int:
		return float64(n)
	case json.Number:
		f, _ := n.Float64()
		return f
	}
	return v
}

func brief(v any) string {
	if v == nil {
		return "nothing"
	}
	data, _ := yaml.Marshal(v)
	s := strings.TrimSpace(string(data))
	if lines := strings.Split(s, "\n"); len(lines) > 6 {
		s = strings.Join(slices.Concat(lines[:6], []string{"..."}), "\n")
	}
	return s
}

// The regimes chart installs every regime of config/regimes, kept by
// helm uninstall, and its values schema offers exactly their names.
func TestRegimesChartInstallsTheRegimesOfConfig(t *testing.T) {
	want := readConfig(t, "regimes/*.yaml")
	checkRegimes(t, byKindAndName(renderChart(t, regimesChartDir)), want)

	var names []any
	for _, regime := range want {
		names = append(names, regime.GetName())
	}
	schema := map[string]any{}
	data, err := os.ReadFile(filepath.Join(regimesChartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	enum, _, _ := unstructured.NestedSlice(schema, "properties", "only", "items", "enum")
	if !slices.Equal(sortedStrings(enum), sortedStrings(names)) {
		t.Errorf("values.schema.json offers only %v, config/regimes holds %v", enum, names)
	}
	only := byKindAndName(renderChart(t, regimesChartDir, "only={uk-gdpr}"))
	if countKind(only, "RegulatoryRegime") != 1 || only[key("RegulatoryRegime", "uk-gdpr")] == nil {
		t.Errorf("only={uk-gdpr} installs %d regimes", countKind(only, "RegulatoryRegime"))
	}
	if out, err := renderDirErr(regimesChartDir, "only={gdpr}"); err == nil || !strings.Contains(out, "uk-gdpr") {
		t.Errorf("only={gdpr} was not refused with the names there are: %v\n%s", err, out)
	}

	// A stale copy is caught.
	stale := filepath.Join(t.TempDir(), "regimes")
	if err := os.CopyFS(stale, os.DirFS(regimesChartDir)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(stale, "files", "regimes", "uk-gdpr.yaml")
	data, err = os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(data), "deadline: 72h", "deadline: 96h", 1)
	if changed == string(data) {
		t.Fatal("uk-gdpr.yaml has no 72h deadline to change")
	}
	if err := os.WriteFile(path, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	var r recorder
	checkRegimes(&r, byKindAndName(renderChart(t, stale)), want)
	if !slices.ContainsFunc(r, func(s string) bool { return strings.Contains(s, "RegulatoryRegime uk-gdpr differs") }) {
		t.Errorf("the check of a stale regimes chart reported %q", r)
	}
}

func checkRegimes(t reporter, rendered map[string]*unstructured.Unstructured, want []*unstructured.Unstructured) {
	if len(want) == 0 {
		t.Errorf("config/regimes holds no regime")
	}
	for _, regime := range want {
		got, ok := rendered[key("RegulatoryRegime", regime.GetName())]
		if !ok {
			t.Errorf("the regimes chart does not install RegulatoryRegime %s: run make chart", regime.GetName())
			continue
		}
		if diff := difference(regime.Object["spec"], got.Object["spec"], "spec"); diff != "" {
			t.Errorf("RegulatoryRegime %s differs from config/regimes (run make chart): %s", regime.GetName(), diff)
		}
		if keep := got.GetAnnotations()["helm.sh/resource-policy"]; keep != "keep" {
			t.Errorf("RegulatoryRegime %s: helm.sh/resource-policy = %q, want keep, as incidents' obligations name it", regime.GetName(), keep)
		}
	}
	if n := countKind(rendered, "RegulatoryRegime"); n != len(want) {
		t.Errorf("the regimes chart installs %d regimes, config/regimes holds %d", n, len(want))
	}
}

func sortedStrings(list []any) []string {
	var out []string
	for _, v := range list {
		out = append(out, fmt.Sprint(v))
	}
	slices.Sort(out)
	return out
}
