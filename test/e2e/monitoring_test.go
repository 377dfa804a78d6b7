package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"

	"github.com/incidentops/incident-operator/internal/sink"
	"github.com/incidentops/incident-operator/internal/testenv"
)

// prometheusOwn are series Prometheus makes itself for every target.
var prometheusOwn = map[string]bool{"up": true}

// Every alert and every dashboard query of config/monitoring parses as
// PromQL, and names only metrics the running operator exports: the state
// gauges, the histograms, the counters and controller-runtime's own. The
// operator is driven until each of them has a sample, as a Prometheus
// scraping it in a cluster would see.
func TestAlertsAndDashboardUseOnlyExportedMetrics(t *testing.T) {
	queries := monitoringQueries(t)
	referenced, errs := referencedMetrics(queries)
	for _, err := range errs {
		t.Error(err)
	}
	if len(referenced) == 0 {
		t.Fatal("config/monitoring names no metric")
	}

	const ns = "monitoring"
	mustKubectl(t, "create", "namespace", ns)
	token := metricsReaderToken(t, ns)
	driveEveryMetric(t, ns)

	var exported map[string]bool
	var missing []string
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(time.Second) {
		code, body := getMetrics(t, operatorMetrics, token)
		if code != http.StatusOK {
			t.Fatalf("GET /metrics: %d\n%s", code, body)
		}
		exported = sampleNames(body)
		missing = unexported(referenced, exported)
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, m := range missing {
		t.Errorf("%s names %s, which the operator does not export (of the %d names it exports, its own are: %s)",
			strings.Join(referenced[m], ", "), m, len(exported), strings.Join(sortedKeys(exported, "incidentops_"), " "))
	}
}

// The check itself: a misspelt metric is reported with where it is used,
// and a query that does not parse is reported as an error.
func TestMonitoringCheckFindsMisspeltMetrics(t *testing.T) {
	exported := map[string]bool{"incidentops_open_incidents": true, "incidentops_notification_duration_seconds_bucket": true}
	tests := map[string]struct {
		expr          string
		missing       []string
		parseFailures int
	}{
		"exported":        {expr: `sum by (namespace) (incidentops_open_incidents) > 0`},
		"Prometheus' own": {expr: `absent(up{job="incident-operator"} == 1)`},
		"histogram bucket": {
			expr: `histogram_quantile(0.95, sum by (le) (rate(incidentops_notification_duration_seconds_bucket[5m])))`,
		},
		"misspelt":          {expr: `sum(incidentops_open_incident) > 0`, missing: []string{"incidentops_open_incident"}},
		"by __name__":       {expr: `{__name__="incidentops_open_incidnets"}`, missing: []string{"incidentops_open_incidnets"}},
		"histogram as such": {expr: `rate(incidentops_notification_duration_seconds[5m])`, missing: []string{"incidentops_notification_duration_seconds"}},
		"does not parse":    {expr: `sum(incidentops_open_incidents`, parseFailures: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			referenced, errs := referencedMetrics([]query{{where: "rule " + name, expr: tc.expr}})
			if len(errs) != tc.parseFailures {
				t.Errorf("parse errors %v, want %d", errs, tc.parseFailures)
			}
			missing := unexported(referenced, exported)
			if !slices.Equal(missing, tc.missing) {
				t.Errorf("unexported = %v, want %v", missing, tc.missing)
			}
			for _, m := range missing {
				if !slices.Equal(referenced[m], []string{"rule " + name}) {
					t.Errorf("%s is used in %v, want the rule named", m, referenced[m])
				}
			}
		})
	}
}

// A query is one PromQL expression and where it is written.
type query struct{ where, expr string }

// monitoringQueries reads every alert expression of the PrometheusRule and
// every query of the Grafana dashboard in config/monitoring. Alert texts
// are parsed as the Go templates Prometheus renders them with.
func monitoringQueries(t *testing.T) []query {
	t.Helper()
	dir := filepath.Join(testenv.RepoRoot(), "config", "monitoring")
	var queries []query

	data, err := os.ReadFile(filepath.Join(dir, "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rule struct {
		Spec struct {
			Groups []struct {
				Name  string
				Rules []struct {
					Alert, Expr, For string
					Annotations      map[string]string
				}
			}
		}
	}
	if err := yaml.Unmarshal(data, &rule); err != nil {
		t.Fatalf("prometheusrule.yaml: %v", err)
	}
	// Prometheus' template functions, as far as the alerts use them.
	funcs := template.FuncMap{"humanize": fmt.Sprint, "humanizeDuration": fmt.Sprint, "humanizePercentage": fmt.Sprint}
	for _, group := range rule.Spec.Groups {
		for _, r := range group.Rules {
			where := "alert " + r.Alert
			queries = append(queries, query{where, r.Expr})
			if r.For != "" {
				if _, err := model.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for: %v", where, err)
				}
			}
			for name, text := range r.Annotations {
				if _, err := template.New(name).Funcs(funcs).Parse("{{$labels := .Labels}}{{$value := .Value}}" + text); err != nil {
					t.Errorf("%s: annotation %s: %v", where, name, err)
				}
			}
		}
	}
	if len(queries) == 0 {
		t.Fatal("prometheusrule.yaml holds no rule")
	}

	data, err = os.ReadFile(filepath.Join(dir, "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dashboard struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct {
				Name  string
				Type  string
				Query json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(data, &dashboard); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	panels := 0
	for _, panel := range dashboard.Panels {
		for _, target := range panel.Targets {
			queries = append(queries, query{"dashboard panel " + panel.Title, grafanaVariables.Replace(target.Expr)})
			panels++
		}
	}
	if panels == 0 {
		t.Fatal("grafana-dashboard.json holds no query")
	}
	// A variable's label_values(selector, label) is Grafana's; the selector is PromQL.
	for _, variable := range dashboard.Templating.List {
		if variable.Type != "query" {
			continue
		}
		var q struct{ Query string }
		if err := json.Unmarshal(variable.Query, &q); err != nil {
			t.Fatalf("dashboard variable %s: %v", variable.Name, err)
		}
		m := labelValues.FindStringSubmatch(q.Query)
		if m == nil {
			t.Errorf("dashboard variable %s: %q is not label_values(selector, label)", variable.Name, q.Query)
			continue
		}
		queries = append(queries, query{"dashboard variable " + variable.Name, m[1]})
	}
	return queries
}

// grafanaVariables stand for what Grafana substitutes before it queries.
var grafanaVariables = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1d", "$namespace", ".*")

var labelValues = regexp.MustCompile(`^label_values\((.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$`)

// referencedMetrics parses each query and returns the metric names each
// selects, with where they are used, and an error for each query that does
// not parse.
func referencedMetrics(queries []query) (map[string][]string, []error) {
	p := parser.NewParser(parser.Options{})
	referenced := map[string][]string{}
	var errs []error
	for _, q := range queries {
		expr, err := p.ParseExpr(q.expr)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %q does not parse: %w", q.where, q.expr, err))
			continue
		}
		parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
			vs, ok := node.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			name := vs.Name
			for _, m := range vs.LabelMatchers {
				if m.Name == model.MetricNameLabel {
					name = m.Value
				}
			}
			if !slices.Contains(referenced[name], q.where) {
				referenced[name] = append(referenced[name], q.where)
			}
			return nil
		})
	}
	return referenced, errs
}

// unexported lists, sorted, the referenced names neither the operator nor
// Prometheus itself exports.
func unexported(referenced map[string][]string, exported map[string]bool) []string {
	var missing []string
	for name := range referenced {
		if !exported[name] && !prometheusOwn[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	return missing
}

// sampleNames are the names of the samples of a text exposition, as
// Prometheus stores them: a histogram's _bucket, _sum and _count.
func sampleNames(exposition string) map[string]bool {
	names := map[string]bool{}
	for _, line := range strings.Split(exposition, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	return names
}

func sortedKeys(m map[string]bool, prefix string) []string {
	var keys []string
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// driveEveryMetric makes the operator export a sample of each of its
// metrics in ns: a delivered and an abandoned notification, an SLA at risk
// and one breached, a breach still to report to the authority with an
// obligation still to decide under a regime of its own, and a policy that
// is not Ready.
func driveEveryMetric(t *testing.T, ns string) {
	t.Helper()
	// A regime only the policy below names, so that no other test's
	// incidents take on its obligations.
	const regime = "e2e-monitoring"
	mustKubectlStdin(t, `apiVersion: security.incidentops.io/v1alpha1
kind: RegulatoryRegime
metadata: {name: `+regime+`}
spec:
  appliesTo: {personalData: true}
  description: "The supervisory authority's notification, for the monitoring test"
  citation: "UK GDPR Art. 33"
  stages:
    - {name: notification, citation: "UK GDPR Art. 33(1)", recipient: SupervisoryAuthority, deadline: 72h, openedBy: Risk}
`, "apply", "-f", "-")
	t.Cleanup(func() { _, _ = kubectl("delete", "regulatoryregime", regime, "--ignore-not-found") })
	// Receivers of its own, so that the other tests' sink counts only theirs.
	accepting := httptest.NewServer(&sink.Sink{})
	t.Cleanup(accepting.Close)
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "no such channel", http.StatusBadRequest)
	}))
	t.Cleanup(refusing.Close)
	for name, url := range map[string]string{"sink": accepting.URL, "refusing": refusing.URL} {
		mustKubectl(t, "-n", ns, "create", "secret", "generic", name, "--from-literal=url="+url)
		mustKubectl(t, "-n", ns, "label", "secret", name, "security.incidentops.io/notification-secret=true")
	}
	aware := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	mustKubectlStdin(t, `apiVersion: security.incidentops.io/v1alpha1
kind: EscalationPolicy
metadata: {name: monitored}
spec:
  match: {categories: [Loss]}
  receivers:
    - name: sink
      webhook: {urlSecretRef: {name: sink, key: url}}
    - name: refusing
      webhook: {urlSecretRef: {name: refusing, key: url}}
  escalation:
    levels:
      - notify: [{receiver: sink}, {receiver: refusing}]
  sla:
    targets:
      - {severities: [High], acknowledgeWithin: 1s}
      - {severities: [Medium], acknowledgeWithin: 1h, warnBefore: 3599s}
  regulatory: {authorityNotificationWithin: 72h}
  regimes: [`+regime+`]
---
apiVersion: security.incidentops.io/v1alpha1
kind: EscalationPolicy
metadata: {name: secret-missing}
spec:
  match: {categories: [Theft]}
  receivers:
    - name: nowhere
      webhook: {urlSecretRef: {name: no-such-secret, key: url}}
  escalation:
    levels:
      - notify: [{receiver: nowhere}]
---
apiVersion: security.incidentops.io/v1alpha1
kind: Incident
metadata: {name: breach}
spec:
  title: Payroll export mailed to the wrong firm
  category: Loss
  severity: High
  reporter: {name: Priya Shah}
  impact: {personalData: true}
  awareAt: "`+aware+`"
---
apiVersion: security.incidentops.io/v1alpha1
kind: Incident
metadata: {name: at-risk}
spec: {title: Badge lost in the car park, category: Loss, severity: Medium, reporter: {name: Tom Okafor}}
---
apiVersion: security.incidentops.io/v1alpha1
kind: PolicyTest
metadata: {name: losses}
spec:
  invariants:
  - name: every loss reaches the sink
    when: {categories: [Loss]}
    told: {receiver: sink, level: 0}
`, "-n", ns, "apply", "-f", "-")
}

func mustKubectlStdin(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := kubectlStdin(stdin, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return out
}
