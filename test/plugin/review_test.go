package plugin

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A reviewer signs off the latest run of a scheduled report through the
// plugin; the API server records the reviewer's account, whatever the
// plugin or the reviewer says.
func TestReviewSignOff(t *testing.T) {
	ns := "review-" + time.Now().Format("150405")
	newNamespace(t, ns)
	mustKubectl(t, "-n", ns, "create", "rolebinding", "mia-reviewer", "--clusterrole=incident-report-reviewer", "--user=mia")
	applyYAML(t, ns, `apiVersion: security.incidentops.io/v1alpha1
kind: IncidentReport
metadata: {name: every-minute}
spec:
  report: ControlDocument
  schedule: "* * * * *"
  format: CSV
  receivers: [{name: desk, webhook: {urlSecretRef: {name: hooks, key: desk}}}]
`)
	fails(t, "mia", []string{"-n", ns, "review", "sign-off", "every-minute"}, "no run waiting for sign-off")

	// The operator makes a run within a minute of now.
	var run string
	eventually(t, 90*time.Second, func() error {
		run = jsonpath(t, ns, "incidentreport/every-minute", ".status.runs[0].id")
		if run == "" {
			return fmt.Errorf("no run yet")
		}
		return nil
	})
	out := succeeds(t, "mia", "-n", ns, "review", "sign-off", "every-minute", "--note", "checked with the desk")
	if !strings.Contains(out, "run "+run+" signed off; attested account: mia") {
		t.Errorf("sign-off printed %q, want the run %s attested as mia", out, run)
	}
	if by := jsonpath(t, ns, "incidentreport/every-minute", `.spec.signOffs[?(@.run=="`+run+`")].by.username`); by != "mia" {
		t.Errorf("spec.signOffs records %q, want mia", by)
	}
	fails(t, "mia", []string{"-n", ns, "review", "sign-off", "every-minute", "--run", run}, "already signed off")
	list := succeeds(t, viewer, "-n", ns, "review", "list", "every-minute")
	if !strings.Contains(list, run) {
		t.Errorf("review list lacks the run %s:\n%s", run, list)
	}
}
