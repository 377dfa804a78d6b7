package plugin

import (
	"strings"
	"testing"
	"time"
)

// A reporter reports without writing YAML and is told who will hear of
// it; a responder acknowledges and resolves, and the record names the
// account the API server authenticated; a responder may not place a legal
// hold (the API server's own refusal is shown); a policy admin may.
func TestReportAndRecordAsDistinctUsers(t *testing.T) {
	const ns = "records"
	newNamespace(t, ns)

	out := succeeds(t, reporter, "report", "-n", ns, "--name", "phish",
		"--title", "Phishing mail asked for payroll logins", "--category", "Phishing", "--severity", "High",
		"--it-related", "--personal-data", "--reporter-name", "Rob Reporter", "--reporter-email", "rob@example.org",
		"--line-manager", "Tom Okafor:tom.okafor@example.org", "--department", "Payroll")
	for _, want := range []string{
		"incident/phish reported in namespace records (High Phishing Incident), recorded as reported by account rob",
		// service-desk does not continue: everyone-else is not reached.
		"Policies that matched: personal-data (generation 1), service-desk (generation 1)\n",
		"Told at level 0:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report output lacks %q:\n%s", want, out)
		}
	}
	told := tableRows(t, out, "POLICY")
	for _, want := range [][]string{
		{"personal-data", "0", "internal-audit", "webhook"},
		{"personal-data", "0", "LineManager", "<tom.okafor@example.org>", "email"},
		{"service-desk", "0", "desk", "webhook"},
	} {
		if !hasRowPrefix(told, want) {
			t.Errorf("report does not say %v is told:\n%s", want, out)
		}
	}
	if len(told) != 3 {
		t.Errorf("report names %d deliveries at level 0, want 3:\n%s", len(told), out)
	}
	if got := jsonpath(t, ns, "incident/phish", ".spec.reportedBy.username"); got != reporter {
		t.Errorf("spec.reportedBy.username = %q, want %q", got, reporter)
	}
	if got := jsonpath(t, ns, "incident/phish", ".spec.reporter.lineManager.email"); got != "tom.okafor@example.org" {
		t.Errorf("line manager e-mail = %q", got)
	}

	// Enums are checked before anything is sent, listing what is valid.
	fails(t, reporter, []string{"report", "-n", ns, "--title", "x", "--category", "Phishing", "--severity", "Urgent"},
		`--severity "Urgent" is not valid: use one of Low, Medium, High, Critical`)
	fails(t, reporter, []string{"report", "-n", ns, "--title", "x", "--category", "Burglary", "--severity", "Low"},
		"use one of Loss, Theft, Destruction")
	if got := strings.Fields(jsonpath(t, ns, "incidents", ".items[*].metadata.name")); len(got) != 1 {
		t.Errorf("incidents after refused reports: %v, want only phish", got)
	}
	// A generated name comes from the title; without --reporter-name the
	// reporter is the account.
	out = succeeds(t, reporter, "report", "-n", ns, "--title", "Tailgating at the side door", "--category", "PhysicalSecurityBreach", "--severity", "Low", "--wait=false")
	name := strings.TrimPrefix(strings.Fields(out)[0], "incident/")
	if !strings.HasPrefix(name, "tailgating-at-the-side-door-") {
		t.Errorf("generated name %q, want one made from the title", name)
	}
	if got := jsonpath(t, ns, "incident/"+name, ".spec.reporter.name"); got != reporter {
		t.Errorf("reporter name = %q, want the account %q", got, reporter)
	}

	// Every reporting flag lands in the spec.
	aware := time.Now().Add(-3 * time.Hour).UTC().Truncate(time.Second)
	succeeds(t, reporter, "report", "-n", ns, "--name", "usb", "--wait=false", "--title", "Unencrypted USB stick in use",
		"--category", "PolicyNonCompliance", "--severity", "Medium", "--type", "weakness", "--description", "Seen at the front desk",
		"--asset", "usb-0007", "--asset", "desk-pc-12", "--aware-at", aware.Format(time.RFC3339), "--forensic",
		"--personal-data", "--special-category-data", "--social-care", "--service-affecting", "--business-critical", "--security-breach")
	for path, want := range map[string]string{
		".spec.type":                  "Weakness",
		".spec.description":           "Seen at the front desk",
		".spec.assets":                `["usb-0007","desk-pc-12"]`,
		".spec.awareAt":               aware.Format(time.RFC3339),
		".spec.forensicInvestigation": "true",
		".spec.impact":                `{"businessCritical":true,"personalData":true,"securityBreach":true,"serviceAffecting":true,"socialCare":true,"specialCategoryData":true}`,
	} {
		if got := jsonpath(t, ns, "incident/usb", path); got != want {
			t.Errorf("incident/usb %s = %s, want %s", path, got, want)
		}
	}
	fails(t, reporter, []string{"report", "-n", ns, "--title", "x", "--category", "Other", "--severity", "Low", "--social-care"},
		"--special-category-data and --social-care are personal data: add --personal-data")

	// A reporter may not acknowledge: RBAC's refusal, as kubectl shows it.
	fails(t, reporter, []string{"ack", "phish", "-n", ns}, "Error from server (Forbidden)", `cannot patch resource "incidents"`)

	out = succeeds(t, responder, "ack", "phish", "-n", ns, "--note", "Looking into it")
	if want := "incident/phish acknowledged by rita; attested account: rita\n"; out != want {
		t.Errorf("ack printed %q, want %q", out, want)
	}
	if got := jsonpath(t, ns, "incident/phish", ".spec.acknowledgement.attestedBy.username"); got != responder {
		t.Errorf("acknowledgement attested by %q, want %q", got, responder)
	}
	// --by names a person; the account is still the one authenticated.
	fails(t, policyAdmin, []string{"ack", "phish", "-n", ns, "--by", "Chief Executive"},
		"Error from server", "acknowledgement cannot be changed once made")

	// Legal hold: a responder is refused by the admission policy, with
	// its own message; a policy admin places and releases it.
	fails(t, responder, []string{"hold", "phish", "-n", ns, "--reason", "Case 12"},
		"Error from server (Forbidden)", "spec.legalHold: rita may not place or release a legal hold")
	out = succeeds(t, policyAdmin, "hold", "phish", "-n", ns, "--reason", "Case 12")
	if want := "incident/phish is under legal hold (Case 12); placed by account pat\n"; out != want {
		t.Errorf("hold printed %q, want %q", out, want)
	}
	fails(t, policyAdmin, []string{"hold", "phish", "-n", ns, "--reason", "Case 13"}, "already under legal hold (Case 12), placed by account pat")
	out = succeeds(t, policyAdmin, "release", "phish", "-n", ns, "--reason", "Case closed")
	if want := "incident/phish: legal hold (Case 12) released (Case closed); released by account pat\n"; out != want {
		t.Errorf("release printed %q, want %q", out, want)
	}
	if got := jsonpath(t, ns, "incident/phish", ".spec.legalHold.released.by.username"); got != policyAdmin {
		t.Errorf("hold released by %q, want %q", got, policyAdmin)
	}
	// A hold placed again after a release is a new record.
	out = succeeds(t, policyAdmin, "hold", "phish", "-n", ns, "--reason", "Case 13")
	if want := "incident/phish is under legal hold (Case 13); placed by account pat\n"; out != want {
		t.Errorf("hold again printed %q, want %q", out, want)
	}
	succeeds(t, policyAdmin, "release", "phish", "-n", ns, "--reason", "Case 13 closed")

	fails(t, responder, []string{"resolve", "phish", "-n", ns, "--state", "Fixed", "--summary", "x"},
		`--state "Fixed" is not valid: use one of Resolved, FalsePositive, Duplicate`)
	out = succeeds(t, responder, "resolve", "phish", "-n", ns, "--state", "resolved", "--summary", "Mail blocked, passwords reset", "--by", "Rita (service desk)")
	if want := "incident/phish resolved (Resolved) by Rita (service desk); attested account: rita\n"; out != want {
		t.Errorf("resolve printed %q, want %q", out, want)
	}

	out = succeeds(t, responder, "notify-authority", "phish", "-n", ns, "--reference", "ICO-0042")
	for _, want := range []string{"the supervisory authority was told at", "reference ICO-0042, before the deadline", "recorded by account rita"} {
		if !strings.Contains(out, want) {
			t.Errorf("notify-authority output lacks %q: %s", want, out)
		}
	}
	if got := jsonpath(t, ns, "incident/phish", ".spec.authorityNotification.recordedBy.username"); got != responder {
		t.Errorf("authority report recorded by %q, want %q", got, responder)
	}

	// -o yaml prints the stored object, as the API server attested it.
	out = succeeds(t, reporter, "report", "-n", ns, "--title", "Chain letter", "--category", "ChainLetter", "--severity", "Low", "-o", "yaml")
	for _, want := range []string{"kind: Incident", "apiVersion: security.incidentops.io/v1alpha1", "reportedBy:", "username: rob"} {
		if !strings.Contains(out, want) {
			t.Errorf("report -o yaml lacks %q:\n%s", want, out)
		}
	}
}

// tableRows are the fields of the rows after the header line that starts
// with header (indented or not), up to the first blank line.
func tableRows(t *testing.T, out, header string) [][]string {
	t.Helper()
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), header) {
			var rows [][]string
			for _, r := range lines[i+1:] {
				if strings.TrimSpace(r) == "" || !strings.HasPrefix(r, strings.Repeat(" ", len(l)-len(strings.TrimLeft(l, " ")))) {
					break
				}
				rows = append(rows, strings.Fields(r))
			}
			return rows
		}
	}
	t.Fatalf("no table with header %q in:\n%s", header, out)
	return nil
}

func hasRowPrefix(rows [][]string, want []string) bool {
	for _, r := range rows {
		if len(r) >= len(want) && strings.Join(r[:len(want)], " ") == strings.Join(want, " ") {
			return true
		}
	}
	return false
}
