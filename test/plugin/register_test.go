package plugin

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// export --register writes the register of personal data breaches as a
// viewer reads it: every breach of the namespace, reported or not, with
// the steps people recorded on its Filings under the accounts the API
// server attested. The Filings are opened here as the operator opens them
// for a regime's stages; people record each step with kubectl.
func TestExportBreachRegister(t *testing.T) {
	const ns = "register"
	const approver = "abby" // incident-filing-approver: the second person
	newNamespace(t, ns)
	mustKubectl(t, "-n", ns, "create", "rolebinding", approver+"-approver", "--clusterrole=incident-filing-approver", "--user="+approver)

	aware := time.Now().Add(-100 * time.Hour).UTC().Truncate(time.Second)
	succeeds(t, reporter, "report", "-n", ns, "--name", "payslips", "--title", "Payslips posted to former addresses", "--category", "UnauthorisedDisclosure",
		"--severity", "High", "--personal-data", "--special-category-data", "--aware-at", aware.Format(time.RFC3339), "--wait=false")
	succeeds(t, reporter, "report", "-n", ns, "--name", "lost-usb", "--title", "USB stick lost on the bus", "--category", "Loss",
		"--severity", "Medium", "--personal-data", "--aware-at", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "--wait=false")
	succeeds(t, reporter, "report", "-n", ns, "--name", "phish", "--title", "Phishing mail", "--category", "Phishing", "--severity", "Low", "--wait=false")

	open := func(incident, stage, citation, recipient, content string) string {
		name := incident + ".uk-gdpr." + stage
		uid := jsonpath(t, ns, "incident/"+incident, ".metadata.uid")
		applyYAML(t, ns, fmt.Sprintf(`apiVersion: security.incidentops.io/v1alpha1
kind: Filing
metadata:
  name: %s
  ownerReferences: [{apiVersion: security.incidentops.io/v1alpha1, kind: Incident, name: %s, uid: %s}]
spec: {incident: %s, regime: uk-gdpr, stage: %s, citation: %q, recipient: %s, requiredContent: [%s], agreementsRequired: 1}
`, name, incident, uid, incident, stage, citation, recipient, content))
		return name
	}
	step := func(user, filing, patch string) {
		t.Helper()
		mustKubectl(t, "-n", ns, "patch", "filing", filing, "--type=merge", "-p", patch, "--as", user)
	}
	notification := open("payslips", "notification", "UK GDPR Art. 33(1)", "SupervisoryAuthority", "nature, consequences, measures")
	step(responder, notification, `{"spec":{"draft":{"content":{"nature":"Payslips posted to former addresses","consequences":"Salaries seen by the new occupants","measures":"Letters recovered; addresses checked against payroll"}}}}`)
	step(approver, notification, `{"spec":{"agreements":[{"sequence":0,"note":"Agreed for Finance"}]}}`)
	filedAt := aware.Add(98 * time.Hour)
	step(responder, notification, fmt.Sprintf(`{"spec":{"filed":{"at":%q,"reference":"DPB-0042","delayReason":"The print run was confirmed only on day four"}}}`, filedAt.Format(time.RFC3339)))
	step(responder, notification, fmt.Sprintf(`{"spec":{"acknowledgement":{"at":%q,"caseNumber":"IC-123456-A1B2"}}}`, filedAt.Add(time.Hour).Format(time.RFC3339)))
	subjects := open("payslips", "data-subjects", "UK GDPR Art. 34(1)", "DataSubjects", "nature")
	step(responder, subjects, `{"spec":{"decision":{"outcome":"NotRequired","exemption":"RiskNoLongerLikely","rationale":"Every letter was recovered unopened."}}}`)
	step(approver, subjects, `{"spec":{"agreements":[{"sequence":0}]}}`)

	file := filepath.Join(t.TempDir(), "register.xlsx")
	r := incident(viewer, "export", "--register", "-n", ns, "-o", "xlsx", "--output-file", file, "--tz", "UTC")
	if r.err != nil || !strings.Contains(r.stderr, "breach register (2 personal data breaches, every one recorded) written to "+file) {
		t.Fatalf("export --register:\n%s", r)
	}
	book, err := excelize.OpenFile(file)
	if err != nil {
		t.Fatal(err)
	}
	defer book.Close()
	if got := book.GetSheetList(); !slices.Equal(got, []string{"Breach register"}) {
		t.Fatalf("sheets %v", got)
	}
	cells, err := book.GetRows("Breach register")
	if err != nil {
		t.Fatal(err)
	}
	register := byIncident(t, cells)
	if len(register) != 2 || register["payslips"] == nil || register["lost-usb"] == nil {
		t.Fatalf("the register holds %v, want payslips and lost-usb", cells)
	}
	deadline := aware.Add(72 * time.Hour)
	for name, want := range map[string]map[string]string{
		"payslips": {
			"Namespace": ns, "Title": "Payslips posted to former addresses", "Aware at": aware.Format("2006-01-02 15:04"),
			"Regimes": "uk-gdpr", "Special category data": "Yes",
			"Art. 33 decision": "Required", "Art. 33 drafted by": responder, "Art. 33 agreed by": approver, "Art. 33 filed by": responder,
			"Art. 33 deadline": deadline.Format("2006-01-02 15:04"), "Art. 33 filed at": filedAt.Format("2006-01-02 15:04"),
			"Art. 33 reference": "DPB-0042", "Art. 33 timeliness": "Late", "Art. 33 late by (hours)": "26.00",
			"Art. 33 delay reason": "The print run was confirmed only on day four", "Art. 33 case number": "IC-123456-A1B2",
			"Consequences (Art. 33 draft)": "Salaries seen by the new occupants", "Measures (Art. 33 draft)": "Letters recovered; addresses checked against payroll",
			"Art. 34 decision": "Not required", "Art. 34 exemption": "Risk no longer likely (Art. 34(3)(b))",
			"Art. 34 rationale": "Every letter was recovered unopened.", "Art. 34 decided by": responder,
		},
		"lost-usb": {
			"Regimes": "", "Special category data": "No", "Art. 33 decision": "Undecided", "Art. 33 timeliness": "Due",
			"Art. 33 filed at": "", "Art. 34 decision": "Undecided",
		},
	} {
		for column, v := range want {
			if got := register[name][column]; got != v {
				t.Errorf("%s, column %q: %q, want %q", name, column, got, v)
			}
		}
	}

	// CSV and Markdown hold the same breaches; a period narrows them to
	// those the organisation became aware of in it.
	out := succeeds(t, viewer, "export", "--register", "-n", ns, "-o", "csv")
	if records, err := csv.NewReader(strings.NewReader(out)).ReadAll(); err != nil || len(records) != 3 || records[0][1] != "Incident" {
		t.Errorf("CSV register: %v\n%s", err, out)
	}
	out = succeeds(t, viewer, "export", "--register", "-n", ns, "-o", "markdown")
	if !strings.HasPrefix(out, "| Namespace | Incident | Title |") || strings.Count(out, "\n| register |") != 2 {
		t.Errorf("Markdown register:\n%s", out)
	}
	lastDay := filepath.Join(t.TempDir(), "last-day.csv")
	r = incident(viewer, "export", "--register", "-n", ns, "--since", "1d", "-o", "csv", "--output-file", lastDay)
	if !strings.Contains(r.stderr, "breach register (1 personal data breaches the organisation became aware of from ") {
		t.Errorf("the register of the last day:\n%s", r)
	}
	if data, err := os.ReadFile(lastDay); err != nil || strings.Count(string(data), "\n") != 2 || !strings.Contains(string(data), "\nregister,lost-usb,") {
		t.Errorf("the register of the last day, want lost-usb alone: %v\n%s", err, data)
	}
	out = succeeds(t, viewer, "export", "--register", "-n", ns, "--from", "2020-01-01", "--to", "2020-02-01", "-o", "csv")
	if n := strings.Count(out, "\n"); n != 1 {
		t.Errorf("the register of January 2020 has %d lines, want the header only:\n%s", n, out)
	}
	// The control document says of the authority what the register says.
	out = succeeds(t, viewer, "export", "-n", ns, "--since", "30d", "-o", "csv", "--tz", "UTC")
	control, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	row := slices.IndexFunc(control, func(r []string) bool { return r[1] == "payslips" })
	if row < 1 {
		t.Fatalf("no payslips in the control document:\n%s", out)
	}
	for column, want := range map[string]string{
		"Authority notification": "Late", "Authority reference": "DPB-0042", "Authority notified at": filedAt.Format("2006-01-02 15:04"),
		"Authority delay reason": "The print run was confirmed only on day four",
	} {
		if got := control[row][slices.Index(control[0], column)]; got != want {
			t.Errorf("control document, payslips, %q: %q, want %q", column, got, want)
		}
	}
	// Every namespace's, for whoever may read them all.
	out = succeeds(t, "", "export", "--register", "-A", "-o", "csv")
	records, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	ours := slices.IndexFunc(records, func(r []string) bool { return r[0] == ns && r[1] == "payslips" })
	if ours < 0 || records[ours][slices.Index(records[0], "Art. 33 case number")] != "IC-123456-A1B2" {
		t.Errorf("the register of every namespace lacks %s/payslips with its case number:\n%s", ns, out)
	}
}

// byIncident is a sheet's rows by incident name, each cell by column name.
func byIncident(t *testing.T, cells [][]string) map[string]map[string]string {
	t.Helper()
	if len(cells) == 0 {
		t.Fatal("an empty sheet")
	}
	rows := map[string]map[string]string{}
	for _, row := range cells[1:] {
		named := map[string]string{}
		for i, column := range cells[0] {
			if i < len(row) {
				named[column] = row[i]
			} else {
				named[column] = ""
			}
		}
		rows[named["Incident"]] = named
	}
	return rows
}
