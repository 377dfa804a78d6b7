package policytest

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/incidentops/incident-operator/internal/testenv"
)

func samples(t *testing.T, extra ...string) (*Objects, []CaseFile) {
	t.Helper()
	root := filepath.Join(testenv.RepoRoot(), "config", "samples")
	objects, files, err := Load(append([]string{root, filepath.Join(root, "tests", "council.yaml")}, extra...))
	if err != nil {
		t.Fatal(err)
	}
	return objects, files
}

func failures(results []Result) []string {
	var out []string
	for _, r := range results {
		if !r.Passed() {
			out = append(out, r.Case.Name+": "+strings.Join(r.Differences, "; "))
			if r.Err != nil {
				out = append(out, r.Case.Name+": "+r.Err.Error())
			}
		}
	}
	return out
}

// The council's routing rules hold on the sample policies, and their kept
// timelines are what a run gives, every run.
func TestTheCouncilsCasesPassOnTheSamples(t *testing.T) {
	objects, files := samples(t)
	results := RunAll(t.Context(), objects, files)
	if err := CheckGolden(results, false); err != nil {
		t.Fatal(err)
	}
	if len(results) < 5 {
		t.Fatalf("%d cases ran", len(results))
	}
	if f := failures(results); len(f) > 0 {
		t.Errorf("cases failed on the samples:\n%s", strings.Join(f, "\n"))
	}
	again := RunAll(t.Context(), objects, files)
	for i := range results {
		if a, b := results[i].Run.Timeline(), again[i].Run.Timeline(); a != b {
			t.Errorf("%s: two runs differ:\n%s\n---\n%s", results[i].Case.Name, a, b)
		}
	}
}

// Swapping two priorities in the samples puts the service desk, which
// does not continue, before the lost-equipment policy: the laptop case
// fails, naming the policy that now stops first.
func TestSwappedPrioritiesFailNamingThePolicyThatStopsFirst(t *testing.T) {
	objects, files := samples(t)
	byName := map[string]int{}
	for i, p := range objects.Policies {
		byName[p.Name] = i
	}
	desk, lost := objects.Policies[byName["it-service-desk"]], objects.Policies[byName["lost-equipment"]]
	desk.Spec.Priority, lost.Spec.Priority = lost.Spec.Priority, desk.Spec.Priority
	results := RunAll(t.Context(), objects, files)
	var laptop *Result
	for i := range results {
		if strings.HasPrefix(results[i].Case.Name, "a lost laptop") {
			laptop = &results[i]
		}
	}
	if laptop == nil || laptop.Passed() {
		t.Fatalf("the laptop case passed with the priorities swapped")
	}
	joined := strings.Join(laptop.Differences, "\n")
	for _, want := range []string{"policies: want [personal-data-breach, lost-equipment, it-service-desk], routed to [personal-data-breach, it-service-desk]",
		"lost-equipment: would match, but not reached: it-service-desk matched first and does not continue"} {
		if !strings.Contains(joined, want) {
			t.Errorf("the difference does not say %q:\n%s", want, joined)
		}
	}
}

// A policy the API server would refuse fails the run, naming the file,
// the policy and the field; so does one the operator would leave out of
// routing, and a case file with a field nobody reads.
func TestWhatTheClusterWouldRefuseFailsNamingTheField(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"a severity the schema does not know": {`apiVersion: security.incidentops.io/v1alpha1
kind: EscalationPolicy
metadata: {name: bad-severity}
spec:
  match: {severities: [Huge]}
  receivers: [{name: desk, webhook: {urlSecretRef: {name: hooks, key: desk}}}]
  escalation: {levels: [{notify: [{receiver: desk}]}]}
`, `EscalationPolicy bad-severity would be refused by the API server: spec.match.severities[0]: Unsupported value: "Huge"`},
		"a misspelt field, which kubectl's strict validation refuses": {`apiVersion: security.incidentops.io/v1alpha1
kind: EscalationPolicy
metadata: {name: misspelt}
spec:
  match: {severites: [High]}
  receivers: [{name: desk, webhook: {urlSecretRef: {name: hooks, key: desk}}}]
  escalation: {levels: [{notify: [{receiver: desk}]}]}
`, "EscalationPolicy misspelt would be refused by the API server: spec.match.severites: unknown field"},
		"a level naming a receiver that is not there": {`apiVersion: security.incidentops.io/v1alpha1
kind: EscalationPolicy
metadata: {name: no-receiver}
spec:
  escalation: {levels: [{notify: [{receiver: nobody}]}]}
`, "EscalationPolicy no-receiver would be refused by the API server: spec.escalation"},
		"an expression that does not compile": {`apiVersion: security.incidentops.io/v1alpha1
kind: EscalationPolicy
metadata: {name: bad-expression}
spec:
  match: {expression: "incident.spec.nosuchfield == 1"}
  receivers: [{name: desk, webhook: {urlSecretRef: {name: hooks, key: desk}}}]
  escalation: {levels: [{notify: [{receiver: desk}]}]}
`, "EscalationPolicy bad-expression would not route incidents"},
		"a case with a field nobody reads": {`apiVersion: security.incidentops.io/v1alpha1
kind: PolicyTest
metadata: {name: typo}
spec:
  cases:
  - name: a typo
    reportedAt: "2026-03-02T09:30:00Z"
    incident: {spec: {title: t, category: Loss, severity: Low, reporter: {name: R}}}
    expect: {policys: [x]}
`, "PolicyTest typo would be refused by the API server: spec.cases[0].expect.policys: unknown field"},
		"a script step that does nothing": {`apiVersion: security.incidentops.io/v1alpha1
kind: PolicyTest
metadata: {name: empty-step}
spec:
  cases:
  - name: an empty step
    reportedAt: "2026-03-02T09:30:00Z"
    incident: {spec: {title: t, category: Loss, severity: Low, reporter: {name: R}}}
    script: [{after: 1h}]
`, "PolicyTest empty-step would be refused by the API server: spec.cases[0].script[0]: Invalid value: give exactly one of acknowledge and resolve"},
	} {
		path := filepath.Join(t.TempDir(), "file.yaml")
		if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := Load([]string{path})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v, want an error from %s saying %q", name, err, path, tc.want)
		}
	}
}

// A kept timeline that no longer matches fails the first case of its file
// with the lines that changed; --update writes it and the run passes.
func TestChangedTimelinesFailUntilUpdated(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "samples", "tests", "council.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cases := filepath.Join(dir, "council.yaml")
	if err := os.WriteFile(cases, data, 0o600); err != nil {
		t.Fatal(err)
	}
	objects, files, err := Load([]string{filepath.Join(testenv.RepoRoot(), "config", "samples"), cases})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(GoldenPath(cases), []byte("# an old timeline\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	results := RunAll(t.Context(), objects, files)
	if err := CheckGolden(results, false); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(results, func(r Result) bool { return r.File == cases })
	if i < 0 || results[i].Passed() || !strings.Contains(strings.Join(results[i].Differences, "\n"), "  - # an old timeline") {
		t.Errorf("a stale timeline passed: %v", results)
	}
	results = RunAll(t.Context(), objects, files)
	if err := CheckGolden(results, true); err != nil {
		t.Fatal(err)
	}
	results = RunAll(t.Context(), objects, files)
	if err := CheckGolden(results, false); err != nil {
		t.Fatal(err)
	}
	if f := failures(results); len(f) > 0 {
		t.Errorf("after --update: %v", f)
	}
}

// The JUnit report has one test case a case, and the failures with their
// differences.
func TestJUnitReport(t *testing.T) {
	objects, files := samples(t)
	results := slices.DeleteFunc(RunAll(t.Context(), objects, files), func(r Result) bool { return !strings.HasSuffix(r.File, "council.yaml") })
	results[1].Differences = []string{"policies: want [x], routed to [y]"}
	var buf bytes.Buffer
	if err := JUnit(&buf, results, nil); err != nil {
		t.Fatal(err)
	}
	var report struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
			Cases    []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &report); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if len(report.Suites) != 1 || report.Suites[0].Tests != len(results) || report.Suites[0].Failures != 1 ||
		report.Suites[0].Cases[1].Failure == nil || report.Suites[0].Cases[1].Failure.Message != "policies: want [x], routed to [y]" {
		t.Errorf("report:\n%s", buf.String())
	}
}

// A case's incident is checked as the API server checks a reported one:
// an incident the cluster would refuse fails its case, naming the field.
func TestACaseWhoseIncidentTheClusterWouldRefuse(t *testing.T) {
	objects, files := samples(t)
	c := files[0].Spec.Cases[0].DeepCopy()
	c.Incident.Spec.Severity = "Huge"
	_, err := Simulate(t.Context(), objects, c)
	if err == nil || !strings.Contains(err.Error(), `incident.spec.severity: Unsupported value: "Huge"`) {
		t.Errorf("a case with severity Huge: %v", err)
	}
}
