// Package monitoring holds the tests of the alerts in prometheusrule.yaml:
// Prometheus' own rule evaluation (promtool test rules) runs them on
// series shaped like the operator's and checks which alerts fire and what
// they say.
package monitoring

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/incidentops/incident-operator/internal/testenv"
)

// promtoolInstall is how to put promtool where the tests look, at the
// Prometheus version go.mod pins.
const promtoolInstall = "GOBIN=$PWD/bin go install github.com/prometheus/prometheus/cmd/promtool@v0.316.0"

// promtool is $PROMTOOL, else bin/promtool, else promtool on PATH. Without
// one the test fails, saying how to build it (make test does, first).
func promtool(t *testing.T) string {
	t.Helper()
	for _, candidate := range []string{os.Getenv("PROMTOOL"), filepath.Join(testenv.RepoRoot(), "bin", "promtool")} {
		if candidate != "" {
			if _, err := os.Stat(candidate); err == nil {
				return candidate
			}
		}
	}
	if path, err := exec.LookPath("promtool"); err == nil {
		return path
	}
	t.Fatalf("no promtool: build it with make promtool, or %s", promtoolInstall)
	return ""
}

// ruleGroups is the PrometheusRule as promtool's rule file needs it: its
// spec's groups.
type ruleGroups struct {
	Spec struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for,omitempty"`
				Labels      map[string]string `json:"labels,omitempty"`
				Annotations map[string]string `json:"annotations,omitempty"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

func readRules(t *testing.T) ruleGroups {
	t.Helper()
	data, err := os.ReadFile("prometheusrule.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rule ruleGroups
	if err := yaml.Unmarshal(data, &rule); err != nil {
		t.Fatalf("prometheusrule.yaml: %v", err)
	}
	return rule
}

// testRules writes the rules as rules.yaml beside the promtool test and
// runs it.
func testRules(t *testing.T, rules ruleGroups, test []byte) {
	t.Helper()
	tool := promtool(t)
	dir := t.TempDir()
	data, err := yaml.Marshal(rules.Spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "test.yaml"), test, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "test", "rules", filepath.Join(dir, "test.yaml")).CombinedOutput()
	if err != nil {
		t.Errorf("promtool test rules: %v\n%s", err, out)
	}
}

// Each obligation alert fires for the obligations it is about, and for no
// other, and says which incident, regime and stage; the authority clock's
// alerts fire only where no regime's stage for the authority runs.
func TestAlerts(t *testing.T) {
	test, err := os.ReadFile("prometheusrule_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	testRules(t, readRules(t), test)
}

// The undecided alert's threshold is the one number in its expression,
// and the patch prometheusrule.yaml documents for changing it addresses
// that rule: a rule moved without the comment fails here, and the patched
// threshold is the one that applies.
func TestObligationUndecidedThresholdIsPatchable(t *testing.T) {
	const group, index, alert = 1, 0, "IncidentObligationUndecided"
	rules := readRules(t)
	data, err := os.ReadFile("prometheusrule.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := "/spec/groups/1/rules/0"
	if !strings.Contains(string(data), "path: "+path+"/alert") || !strings.Contains(string(data), "path: "+path+"/expr") {
		t.Fatalf("prometheusrule.yaml no longer documents the patch of %s", path)
	}
	rule := &rules.Spec.Groups[group].Rules[index]
	if rule.Alert != alert {
		t.Fatalf("%s is %s, want %s", path, rule.Alert, alert)
	}
	if !strings.HasSuffix(rule.Expr, "> 24 * 3600") {
		t.Fatalf("%s: %q does not end with the default threshold > 24 * 3600", alert, rule.Expr)
	}
	rule.Expr = strings.TrimSuffix(rule.Expr, "24 * 3600") + "8 * 3600"
	rule.Annotations = nil
	testRules(t, rules, []byte(`rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  - interval: 1h
    input_series:
      - series: 'incidentops_obligation_undecided_since_timestamp_seconds{namespace="a",incident="aware-9h",regime="r",stage="s"}'
        values: '0x30'
      - series: 'incidentops_obligation_undecided_since_timestamp_seconds{namespace="a",incident="aware-7h",regime="r",stage="s"}'
        values: '7200x30'
    alert_rule_test:
      - eval_time: 9h
        alertname: IncidentObligationUndecided
        exp_alerts:
          - exp_labels: {severity: warning, namespace: a, incident: aware-9h, regime: r, stage: s}
`))
}
