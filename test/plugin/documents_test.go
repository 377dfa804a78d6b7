package plugin

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// export -o xlsx writes the control document; read back cell by cell, each
// row says what the incident holds.
func TestExportControlDocument(t *testing.T) {
	const ns = "export"
	newNamespace(t, ns)
	succeeds(t, reporter, "report", "-n", ns, "--name", "phish-x", "--title", "Phishing mail", "--category", "Phishing", "--severity", "High",
		"--it-related", "--reporter-name", "Rob Reporter", "--reporter-email", "rob@example.org", "--department", "Payroll")
	succeeds(t, reporter, "report", "-n", ns, "--name", "note-x", "--title", "=HYPERLINK(\"http://evil\")", "--category", "PasswordExposure", "--severity", "Low")
	succeeds(t, reporter, "report", "-n", ns, "--name", "lost-x", "--title", "Phone lost", "--category", "Loss", "--severity", "Medium",
		"--personal-data", "--business-critical", "--line-manager", "Tom:tom@example.org")
	succeeds(t, responder, "ack", "phish-x", "-n", ns, "--by", "Rita")
	mustKubectl(t, "-n", ns, "wait", "--for=jsonpath={.status.phase}=Acknowledged", "--timeout=30s", "incident/phish-x")
	succeeds(t, responder, "resolve", "phish-x", "-n", ns, "--state", "Resolved", "--summary", "Blocked the sender", "--by", "Rita")
	mustKubectl(t, "-n", ns, "wait", "--for=jsonpath={.status.phase}=Resolved", "--timeout=30s", "incident/phish-x")

	file := filepath.Join(t.TempDir(), "control.xlsx")
	r := incident(viewer, "export", "-n", ns, "--since", "1d", "-o", "xlsx", "--output-file", file, "--tz", "UTC")
	if r.err != nil || !strings.Contains(r.stderr, "control document (3 incidents reported from") {
		t.Fatalf("export:\n%s", r)
	}
	var incidents securityv1alpha1.IncidentList
	if err := json.Unmarshal([]byte(mustKubectl(t, "-n", ns, "get", "incidents", "-o", "json")), &incidents); err != nil {
		t.Fatal(err)
	}

	book, err := excelize.OpenFile(file)
	if err != nil {
		t.Fatal(err)
	}
	defer book.Close()
	if got := book.GetSheetList(); !slices.Equal(got, []string{"Control document"}) {
		t.Fatalf("sheets %v", got)
	}
	cells, err := book.GetRows("Control document")
	if err != nil {
		t.Fatal(err)
	}
	if len(cells) != 4 {
		t.Fatalf("%d rows, want a header and 3 incidents: %v", len(cells), cells)
	}
	col := map[string]int{}
	for i, name := range cells[0] {
		col[name] = i
	}
	cell := func(row []string, name string) string {
		i, ok := col[name]
		if !ok {
			t.Fatalf("no column %q in the header %v", name, cells[0])
		}
		if i < len(row) {
			return row[i]
		}
		return ""
	}
	yesNo := map[bool]string{true: "Yes", false: "No"}
	minute := func(tm *time.Time) string {
		if tm == nil || tm.IsZero() {
			return ""
		}
		return tm.UTC().Format("2006-01-02 15:04")
	}
	for _, inc := range incidents.Items {
		i := slices.IndexFunc(cells[1:], func(row []string) bool { return cell(row, "Name") == inc.Name })
		if i < 0 {
			t.Errorf("no row for %s", inc.Name)
			continue
		}
		row := cells[1+i]
		spec, st := inc.Spec, inc.Status
		want := map[string]string{
			"Namespace": ns, "Title": spec.Title, "Type": string(spec.Type), "Category": string(spec.Category),
			"Severity": string(spec.Severity), "Reporter": spec.Reporter.Name, "Reporter email": spec.Reporter.Email,
			"Reported by account": spec.ReportedBy.Username, "Department": spec.Reporter.Department,
			"Business critical": yesNo[spec.Impact.BusinessCritical], "Security breach": "No", "Personal data": yesNo[spec.Impact.PersonalData],
			"Escalation level": strconv.Itoa(int(st.EscalationLevel)), "Status": string(st.Phase),
			"Reported at": minute(&inc.CreationTimestamp.Time),
		}
		if a := spec.Acknowledgement; a != nil {
			want["Acknowledged by"], want["Acknowledged by account"] = a.By, a.AttestedBy.Username
			want["Acknowledged at"] = minute(&st.AcknowledgedAt.Time)
		}
		if res := spec.Resolution; res != nil {
			want["Resolved by"], want["Resolved by account"], want["Resolution"], want["Resolution summary"] = res.By, res.AttestedBy.Username, string(res.State), res.Summary
			want["Resolved at"] = minute(&st.ResolvedAt.Time)
		}
		if spec.Impact.PersonalData {
			want["Authority notification"] = "Due"
			want["Authority deadline"] = minute(&st.AuthorityNotificationDeadline.Time)
		}
		for name, v := range want {
			if got := cell(row, name); got != v {
				t.Errorf("%s, column %q: %q, want %q", inc.Name, name, got, v)
			}
		}
	}
	// What the test knows besides the stored objects.
	for name, want := range map[string]map[string]string{
		"phish-x": {"Acknowledged by account": responder, "Resolved by account": responder, "Reported by account": reporter, "Status": "Resolved", "SLA met": "Met"},
		// A title that is a formula stays text.
		"note-x": {"Title": `=HYPERLINK("http://evil")`, "Reporter": reporter},
	} {
		row := cells[1+slices.IndexFunc(cells[1:], func(row []string) bool { return cell(row, "Name") == name })]
		for c, v := range want {
			if got := cell(row, c); got != v {
				t.Errorf("%s, column %q: %q, want %q", name, c, got, v)
			}
		}
	}
	formula, err := book.GetCellFormula("Control document", "F3")
	if err != nil || formula != "" {
		t.Errorf("a title became a formula: %q, %v", formula, err)
	}
	panes, err := book.GetPanes("Control document")
	if err != nil || !panes.Freeze || panes.YSplit != 1 {
		t.Errorf("the header row is not frozen: %+v, %v", panes, err)
	}

	// CSV and Markdown hold the same incidents.
	out := succeeds(t, viewer, "export", "-n", ns, "--since", "1d", "-o", "csv", "--tz", "UTC")
	records, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(records) != 4 || records[0][1] != "Name" {
		t.Errorf("CSV export: %v\n%s", err, out)
	}
	out = succeeds(t, viewer, "export", "-n", ns, "--since", "1d", "-o", "markdown")
	if !strings.HasPrefix(out, "| Namespace | Name | Reported at |") || strings.Count(out, "\n| export |") != 3 {
		t.Errorf("Markdown export:\n%s", out)
	}
	// A period before the incidents holds none of them.
	out = succeeds(t, viewer, "export", "-n", ns, "--from", "2020-01-01", "--to", "2020-02-01", "-o", "csv")
	if n := strings.Count(out, "\n"); n != 1 {
		t.Errorf("export of January 2020 has %d lines, want the header only:\n%s", n, out)
	}
	fails(t, viewer, []string{"export", "-n", ns, "--since", "1d", "--from", "2026-01-01"}, "give --since or --from, not both")
	// A workbook is not written to a terminal.
	if script, err := exec.LookPath("script"); err == nil {
		cmd := exec.Command(script, "-qec", kubectlBinary()+" incident export -n "+ns+" -o xlsx", "/dev/null")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "-o xlsx writes a workbook, not text: give --output-file") {
			t.Errorf("export -o xlsx on a terminal: %v\n%s", err, out)
		}
	}

	// The review group's summary of the month the incidents were reported in.
	month := incidents.Items[0].CreationTimestamp.UTC().Format("2006-01")
	out = succeeds(t, viewer, "summary", "-n", ns, "--period", month, "--tz", "UTC")
	for _, want := range []string{"# Information security incidents reported from " + month + "-01 00:00", "| Reported | 3 |", "| Major incidents | 0 |", "| SLA met | 1 |"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	summary := filepath.Join(t.TempDir(), "summary.xlsx")
	succeeds(t, viewer, "summary", "-n", ns, "--period", month, "-o", "xlsx", "--output-file", summary)
	sbook, err := excelize.OpenFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	defer sbook.Close()
	if sheets := sbook.GetSheetList(); len(sheets) < 2 || sheets[0] != "Overview" {
		t.Errorf("summary workbook sheets %v", sheets)
	}
	fails(t, viewer, []string{"summary", "-n", ns}, "--period is required")
}

// import brings a spreadsheet in: bad rows are named with their reason,
// nothing is created while any row is bad (unless --skip-invalid), a dry
// run creates nothing, and a second import skips what the first made.
func TestImportSpreadsheet(t *testing.T) {
	const ns = "imports"
	newNamespace(t, ns)
	base := time.Now().UTC().AddDate(0, 0, -20).Truncate(time.Minute)
	at := func(d time.Duration) string { return base.Add(d).Format("2006-01-02 15:04") }
	day := 24 * time.Hour
	file := filepath.Join(t.TempDir(), "kept.xlsx")
	writeWorkbook(t, file, [][]any{
		{"Reported at", "Aware at", "Title", "Category", "Severity", "Reporter", "Department", "Acknowledged by"},
		{at(0), "", "Laptop left in a taxi", "Loss", "High", "Priya Shah", "Finance", ""},
		{at(day), "", "Burglary at the depot", "Burglary", "Medium", "Sam", "", ""},
		{at(2 * day), "", "", "Phishing", "Low", "Jo", "", ""},
		{at(3 * day), at(3*day - 4*time.Hour), "USB stick found in the car park", "Other", "Low", "Alex", "Facilities", "Rita"},
	})
	badRows := []string{
		`not imported: row 3, Category: unknown category "Burglary": one of Loss, Theft`,
		"not imported: row 4, Title: missing: every incident needs a one-line title",
	}
	count := func() int { return len(strings.Fields(jsonpath(t, ns, "incidents", ".items[*].metadata.name"))) }

	// A row already acknowledged is an import of a record, which needs the
	// verb import: the policy admin is refused it until bound to
	// incident-importer.
	r := fails(t, policyAdmin, []string{"import", file, "-n", ns, "--tz", "UTC", "--dry-run"}, "1 refused by the API server")
	if !strings.Contains(r.stdout, "refused: row 5") || !strings.Contains(r.stdout, "spec.acknowledgement: an incident is created as a report") {
		t.Errorf("an acknowledged row imported without the verb import:\n%s", r)
	}
	mustKubectl(t, "-n", ns, "create", "rolebinding", policyAdmin+"-importer", "--clusterrole=incident-importer", "--user="+policyAdmin)

	r = fails(t, policyAdmin, []string{"import", file, "-n", ns, "--tz", "UTC", "--dry-run"}, "dry run: 2 row(s) wrong and 0 refused by the API server; nothing was created")
	for _, want := range append(badRows, "would create: row 2 (imports/imported-", "would create: row 5 (imports/imported-") {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("import --dry-run lacks %q:\n%s", want, r)
		}
	}
	if n := count(); n != 0 {
		t.Fatalf("a dry run created %d incidents", n)
	}

	r = fails(t, policyAdmin, []string{"import", file, "-n", ns, "--tz", "UTC"},
		"2 row(s) of "+file+" cannot be imported (each is named above), so nothing was imported: correct them, or give --skip-invalid to import the 2 good row(s)")
	for _, want := range badRows {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("import lacks %q:\n%s", want, r)
		}
	}
	if n := count(); n != 0 {
		t.Fatalf("an import with bad rows created %d incidents", n)
	}

	out := succeeds(t, policyAdmin, "import", file, "-n", ns, "--tz", "UTC", "--skip-invalid", "--dry-run")
	if !strings.Contains(out, "dry run: 2 incident(s) would be created, 0 already imported, 2 row(s) skipped as wrong; nothing was created") || count() != 0 {
		t.Errorf("import --skip-invalid --dry-run:\n%s", out)
	}

	out = succeeds(t, policyAdmin, "import", file, "-n", ns, "--tz", "UTC", "--skip-invalid")
	created := regexp.MustCompile(`created: row (\d) \(imports/(imported-[0-9a-f-]+)\)`).FindAllStringSubmatch(out, -1)
	if len(created) != 2 || created[0][1] != "2" || created[1][1] != "5" || !strings.Contains(out, "imported 2 incident(s); 0 already imported; 2 row(s) not imported") {
		t.Fatalf("import --skip-invalid:\n%s", out)
	}
	taxi, usb := created[0][2], created[1][2]
	if !strings.HasPrefix(taxi, "imported-"+base.Format("20060102")+"-") {
		t.Errorf("name %q is not made from the report date %s", taxi, base.Format("20060102"))
	}
	for object, want := range map[string]string{
		"incident/" + taxi + ":.spec.title":                              "Laptop left in a taxi",
		"incident/" + taxi + ":.spec.reporter.department":                "Finance",
		"incident/" + taxi + ":.spec.awareAt":                            base.Format(time.RFC3339),
		"incident/" + usb + ":.spec.awareAt":                             base.Add(3*day - 4*time.Hour).Format(time.RFC3339),
		"incident/" + usb + ":.spec.acknowledgement.by":                  "Rita",
		"incident/" + usb + ":.spec.acknowledgement.attestedBy.username": policyAdmin,
		"incident/" + usb + ":.spec.reportedBy.username":                 policyAdmin,
	} {
		name, path, _ := strings.Cut(object, ":")
		if got := jsonpath(t, ns, name, path); got != want {
			t.Errorf("%s %s = %q, want %q", name, path, got, want)
		}
	}

	out = succeeds(t, policyAdmin, "import", file, "-n", ns, "--tz", "UTC", "--skip-invalid")
	for _, want := range []string{
		fmt.Sprintf("already imported: row 2 (imports/%s) exists, skipped", taxi),
		fmt.Sprintf("already imported: row 5 (imports/%s) exists, skipped", usb),
		"imported 0 incident(s); 2 already imported; 2 row(s) not imported",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("second import lacks %q:\n%s", want, out)
		}
	}
	if n := count(); n != 2 {
		t.Errorf("%d incidents after importing twice, want 2", n)
	}

	// The API server's refusals show in a dry run, row by row: here RBAC's,
	// since a viewer may not create incidents.
	mustKubectl(t, "create", "namespace", "imports-viewer")
	mustKubectl(t, "-n", "imports-viewer", "create", "rolebinding", "vic-viewer", "--clusterrole=incident-viewer", "--user="+viewer)
	r = fails(t, viewer, []string{"import", file, "-n", "imports-viewer", "--tz", "UTC", "--skip-invalid", "--dry-run"}, "2 refused by the API server; nothing was created")
	for _, row := range []string{"2", "5"} {
		if !regexp.MustCompile(`refused: row ` + row + ` \(imports-viewer/imported-[0-9a-f-]+\): Error from server \(Forbidden\): .*cannot create resource "incidents"`).MatchString(r.stdout) {
			t.Errorf("the dry run does not show the API server's refusal of row %s:\n%s", row, r)
		}
	}
}

func writeWorkbook(t *testing.T, path string, rows [][]any) {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, row := range rows {
		cell, err := excelize.CoordinatesToCellName(1, i+1)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.SetSheetRow("Sheet1", cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
}
