package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// workbook is a sheet a person might have kept: cells as text, as dates,
// as booleans. A time.Time is written as a date cell of its wall clock.
func workbook(t *testing.T, rows [][]any) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer func() { _ = f.Close() }()
	sheet := f.GetSheetName(0)
	for r, row := range rows {
		for c, v := range row {
			cell, _ := excelize.CoordinatesToCellName(c+1, r+1)
			if tm, ok := v.(time.Time); ok {
				v = wallClock(tm)
			}
			if err := f.SetCellValue(sheet, cell, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// importedName is the name the import gives a row without one.
func importedName(reported time.Time, reporter, title string) string {
	sum := sha256.Sum256([]byte(reported.UTC().Format(time.RFC3339) + "\x00" + reporter + "\x00" + title))
	return "imported-" + reported.Format("20060102") + "-" + hex.EncodeToString(sum[:])[:10]
}

func mt(t time.Time) *metav1.Time { m := metav1.NewTime(t); return &m }

func TestImport(t *testing.T) {
	loc := london(t)
	importNow := time.Date(2026, 10, 1, 12, 0, 0, 0, loc)
	header := []any{
		"title", "CATEGORY", "  Severity ", "Reported At", "Aware at", "Reporter", "Reporter email", "Department", "System or asset",
		"Type", "Personal data", "Business critical", "Security breach", "Description", "Acknowledged by", "Resolved by", "Resolution",
		"Resolution summary", "Authority notified at", "Authority reference", "Authority delay reason", "Notes", "Supplier reference", "Namespace",
	}
	// row builds a row from the columns it names; the rest are blank.
	col := map[string]int{}
	for i, h := range header {
		col[headerKey(h.(string))] = i
	}
	row := func(cells map[string]any) []any {
		out := make([]any, len(header))
		for name, v := range cells {
			i, ok := col[headerKey(name)]
			if !ok {
				t.Fatalf("no column %q", name)
			}
			out[i] = v
		}
		return out
	}
	reported := time.Date(2026, 9, 1, 10, 30, 0, 0, loc)
	good := func(extra map[string]any) []any {
		cells := map[string]any{"Title": "Keys lost", "Category": "Loss", "Severity": "Low", "Reported at": reported, "Reporter": "Kim"}
		for k, v := range extra {
			cells[k] = v
		}
		return row(cells)
	}
	rows := [][]any{
		header,
		// 2: a date cell, words in any case, a list of assets, a boolean cell.
		row(map[string]any{
			"Title": "Laptop left on a train", "Category": "loss", "Severity": "High", "Reported at": reported,
			"Reporter": "Ann Reporter", "Reporter email": "ann@example.org", "Department": "Finance",
			"System or asset": "laptop-23, phone-7", "Personal data": "Yes", "Business critical": "no", "Security breach": true,
			"Description": "Left on the 08:10.\nReported by phone.", "Acknowledged by": "Service Desk", "Resolved by": "Carol",
			"Resolution": "false positive", "Resolution summary": "Found in the office", "Notes": "called twice",
			"Supplier reference": "WMBC-991", "Namespace": "finance",
		}),
		// 3: dates as text, day first; the authority told late, with the reason.
		row(map[string]any{
			"Title": "Mail asking for bank details", "Category": "Phishing", "Severity": "medium", "Reported at": "05/09/2026 14:30",
			"Aware at": "2026-09-05 09:15", "Reporter": "Bob", "Type": "weakness", "Personal data": "y",
			"Authority notified at": "2026-09-09 10:00", "Authority reference": "ICO-9", "Authority delay reason": "Waited for legal advice",
		}),
		good(map[string]any{"Category": "Virus"}),                                                           // 4
		good(map[string]any{"Reported at": "next Tuesday"}),                                                 // 5
		good(map[string]any{"Title": nil}),                                                                  // 6
		good(map[string]any{"Personal data": "maybe", "Severity": "Severe"}),                                // 7
		good(map[string]any{"System or asset": "laptop-23; Finance Laptop"}),                                // 8
		good(map[string]any{"Authority notified at": reported}),                                             // 9
		good(map[string]any{"Personal data": "Yes", "Authority notified at": reported.Add(80 * time.Hour)}), // 10
		good(map[string]any{"Aware at": reported.Add(time.Minute)}),                                         // 11
		good(map[string]any{"Reported at": importNow.Add(time.Hour)}),                                       // 12
		good(map[string]any{"Reporter email": "kim at example.org"}),                                        // 13
		good(map[string]any{"Resolution summary": "Found"}),                                                 // 14
		row(map[string]any{ // 15: the same report as row 2
			"Title": "Laptop left on a train", "Category": "Theft", "Severity": "Low", "Reported at": reported,
			"Reporter": "Ann Reporter", "Namespace": "finance",
		}),
		{}, // 16: blank, skipped
		good(map[string]any{"Category": "Other", "Reported at": reported.Add(time.Hour)}),                                                         // 17
		good(map[string]any{"Personal data": "Yes", "Aware at": reported.Add(-time.Hour), "Authority notified at": reported.Add(-2 * time.Hour)}), // 18
		good(map[string]any{"Authority reference": "ICO-1"}),                                                                                      // 19
		good(map[string]any{"Resolution": "Fixed", "Resolved by": "Kim"}),                                                                         // 20
		good(map[string]any{"Title": strings.Repeat("é", 201)}),                                                                                   // 21
		good(map[string]any{"Reporter": "  "}),                                                                                                    // 22
		good(map[string]any{"Type": "Risk"}),                                                                                                      // 23
		good(map[string]any{"Namespace": "Finance Dept"}),                                                                                         // 24
		good(map[string]any{"Title": "   \t"}),                                                                                                    // 25
		good(map[string]any{"System or asset": strings.Repeat("a,", 51)}),                                                                         // 26
		good(map[string]any{"System or asset": "laptop-23; LAPTOP-23 ;laptop-23"}),                                                                // 27
	}

	result, err := Import(bytes.NewReader(workbook(t, rows)), loc, importNow)
	if err != nil {
		t.Fatal(err)
	}

	wantErrors := []RowError{
		{4, "Category", `unknown category "Virus": one of ` + joined(Categories)},
		{5, "Reported at", `"next Tuesday" is not a date and time: write it as 2006-01-02 15:04`}, // and not also "missing"
		{6, "Title", "missing: every incident needs a one-line title"},
		{7, "Personal data", `"maybe" is neither Yes nor No`},
		{7, "Severity", `unknown severity "Severe": one of Low, Medium, High, Critical`},
		{8, "System or asset", `"Finance Laptop" is not the name of an Asset: lower-case letters, digits, '-' and '.'`},
		{9, "Personal data", "No, but the authority was told: only personal data breaches are reported to it"},
		{10, "Authority delay reason", "missing: the authority was told more than 72 hours after the organisation knew, so the reason is required (GDPR Art. 33(1))"},
		{11, "Aware at", "2026-09-01 10:31 is after the report at 2026-09-01 10:30: the organisation knew when it was told"},
		{12, "Reported at", "2026-10-01 13:00 is in the future"},
		{13, "Reporter email", `"kim at example.org" is not an e-mail address such as name@example.org`},
		{14, "Resolved by", "missing: the row has a resolution summary, so it needs who resolved it"},
		{15, "Name", "the same report as row 2 (the same report time, reporter and title), so the same incident, " + importedName(reported, "Ann Reporter", "Laptop left on a train")},
		{18, "Authority notified at", "2026-09-01 08:30 is before the organisation knew, at 2026-09-01 09:30"},
		{19, "Authority notified at", "missing: the row has an authority reference or delay reason, so it needs when the authority was told"},
		{20, "Resolution", `unknown resolution "Fixed": one of Resolved, FalsePositive, Duplicate`},
		{21, "Title", "201 characters, more than the 200 allowed"},
		{22, "Reporter", "missing: every incident needs the name of who reported it"},
		{23, "Type", `unknown type "Risk": one of Incident, Weakness`},
		{24, "Namespace", `"Finance Dept" is not a namespace name: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`},
		{25, "Title", "missing: every incident needs a one-line title"},
		{26, "System or asset", "51 assets, more than the 50 allowed"},
		{26, "System or asset", `"a" is named more than once`},
		{27, "System or asset", `"LAPTOP-23" is not the name of an Asset: lower-case letters, digits, '-' and '.'`},
		{27, "System or asset", `"laptop-23" is named more than once`},
	}
	if !slices.Equal(result.Errors, wantErrors) {
		for _, e := range result.Errors {
			t.Logf("got  %v", e)
		}
		for _, e := range wantErrors {
			t.Logf("want %v", e)
		}
		t.Errorf("errors differ")
	}

	wantWarnings := []string{
		`column "Notes" is not a column of the control document: it is not imported`,
		`column "Supplier reference" is not imported: the Incident API has no field for the supplier's reference`,
	}
	if !slices.Equal(result.Warnings, wantWarnings) {
		t.Errorf("warnings = %q, want %q", result.Warnings, wantWarnings)
	}

	phishReported := time.Date(2026, 9, 5, 14, 30, 0, 0, loc)
	typeMeta := metav1.TypeMeta{APIVersion: "security.incidentops.io/v1alpha1", Kind: "Incident"}
	want := []ImportedIncident{
		{Row: 2, ReportedAt: reported, Incident: securityv1alpha1.Incident{
			TypeMeta:   typeMeta,
			ObjectMeta: metav1.ObjectMeta{Namespace: "finance", Name: importedName(reported, "Ann Reporter", "Laptop left on a train")},
			Spec: securityv1alpha1.IncidentSpec{
				ReportedAt: mt(reported),
				Title:      "Laptop left on a train", Description: "Left on the 08:10.\nReported by phone.",
				Type: "Incident", Category: "Loss", Severity: "High",
				Reporter: securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: "Ann Reporter", Email: "ann@example.org"}, Department: "Finance"},
				Assets:   []string{"laptop-23", "phone-7"},
				Impact:   securityv1alpha1.Impact{PersonalData: true, SecurityBreach: true},
				// Aware at was blank: the organisation knew when it was told.
				AwareAt:         mt(reported),
				Acknowledgement: &securityv1alpha1.Acknowledgement{By: "Service Desk"},
				Resolution:      &securityv1alpha1.Resolution{State: "FalsePositive", By: "Carol", Summary: "Found in the office"},
			},
		}},
		{Row: 3, ReportedAt: phishReported, Incident: securityv1alpha1.Incident{
			TypeMeta:   typeMeta,
			ObjectMeta: metav1.ObjectMeta{Name: importedName(phishReported, "Bob", "Mail asking for bank details")},
			Spec: securityv1alpha1.IncidentSpec{
				ReportedAt: mt(phishReported),
				Title:      "Mail asking for bank details", Type: "Weakness", Category: "Phishing", Severity: "Medium",
				Reporter: securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: "Bob"}},
				Impact:   securityv1alpha1.Impact{PersonalData: true},
				AwareAt:  mt(time.Date(2026, 9, 5, 9, 15, 0, 0, loc)),
				AuthorityNotification: &securityv1alpha1.AuthorityNotification{
					NotifiedAt: *mt(time.Date(2026, 9, 9, 10, 0, 0, 0, loc)), Reference: "ICO-9", DelayReason: "Waited for legal advice",
				},
			},
		}},
		{Row: 17, ReportedAt: reported.Add(time.Hour), Incident: securityv1alpha1.Incident{
			TypeMeta:   typeMeta,
			ObjectMeta: metav1.ObjectMeta{Name: importedName(reported.Add(time.Hour), "Kim", "Keys lost")},
			Spec: securityv1alpha1.IncidentSpec{
				ReportedAt: mt(reported.Add(time.Hour)),
				Title:      "Keys lost", Type: "Incident", Category: "Other", Severity: "Low",
				Reporter: securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: "Kim"}},
				AwareAt:  mt(reported.Add(time.Hour)),
			},
		}},
	}
	if len(result.Incidents) != len(want) {
		t.Fatalf("%d incidents, want %d: %+v", len(result.Incidents), len(want), result.Incidents)
	}
	for i := range want {
		got := result.Incidents[i]
		if got.Row != want[i].Row || !got.ReportedAt.Equal(want[i].ReportedAt) {
			t.Errorf("incident %d: row %d reported %v, want row %d reported %v", i, got.Row, got.ReportedAt, want[i].Row, want[i].ReportedAt)
		}
		if !reflect.DeepEqual(inUTC(got.Incident), inUTC(want[i].Incident)) {
			t.Errorf("incident of row %d =\n%+v\nwant\n%+v", want[i].Row, got.Incident, want[i].Incident)
		}
	}
	if name := result.Incidents[0].Incident.Name; !strings.HasPrefix(name, "imported-20260901-") || len(name) != len("imported-20260901-")+10 {
		t.Errorf("name = %q, want imported-<date>-<10 hex digits>", name)
	}
}

// inUTC is the incident with its times in UTC, so that equal instants
// compare equal whatever zone they were read in.
func inUTC(inc securityv1alpha1.Incident) securityv1alpha1.Incident {
	inc = *inc.DeepCopy()
	if inc.Spec.AwareAt != nil {
		inc.Spec.AwareAt = mt(inc.Spec.AwareAt.UTC())
	}
	if inc.Spec.ReportedAt != nil {
		inc.Spec.ReportedAt = mt(inc.Spec.ReportedAt.UTC())
	}
	if n := inc.Spec.AuthorityNotification; n != nil {
		n.NotifiedAt = metav1.NewTime(n.NotifiedAt.UTC())
	}
	return inc
}

// The name is the same when the row is imported again, or corrected; a
// different report gets a different one.
func TestImportNames(t *testing.T) {
	loc := london(t)
	reported := time.Date(2026, 9, 1, 10, 30, 0, 0, loc)
	header := []any{"Reported at", "Title", "Category", "Severity", "Reporter", "Description", "Name"}
	base := []any{reported, "Keys lost", "Loss", "Low", "Kim", "", ""}
	nameOf := func(t *testing.T, row []any) string {
		t.Helper()
		result, err := Import(bytes.NewReader(workbook(t, [][]any{header, row})), loc, now)
		if err != nil || len(result.Incidents) != 1 {
			t.Fatalf("Import = %+v, %v", result, err)
		}
		return result.Incidents[0].Incident.Name
	}
	with := func(i int, v any) []any { row := slices.Clone(base); row[i] = v; return row }
	first := nameOf(t, base)
	tests := map[string]struct {
		row  []any
		same bool
	}{
		"imported again":                  {row: base, same: true},
		"severity corrected":              {row: with(3, "High"), same: true},
		"description added":               {row: with(5, "On the bus"), same: true},
		"the same time written as text":   {row: with(0, "01/09/2026 10:30"), same: true},
		"another title":                   {row: with(1, "Keys found")},
		"another reporter":                {row: with(4, "Kit")},
		"a minute later":                  {row: with(0, reported.Add(time.Minute))},
		"a name of its own":               {row: with(6, "keys-2026")},
		"an exported name is kept as is.": {row: with(6, first), same: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := nameOf(t, tc.row); (got == first) != tc.same {
				t.Errorf("name = %q, first %q: same = %v, want %v", got, first, got == first, tc.same)
			}
		})
	}
}

func TestImportRefusesTheSheet(t *testing.T) {
	loc := london(t)
	tests := map[string]struct {
		file []byte
		want string
	}{
		"not a workbook": {file: []byte("Title,Category\n"), want: "reading the workbook"},
		"empty":          {file: workbook(t, nil), want: `sheet "Sheet1" is empty: it needs a header row naming the columns Reported at, Title, Category, Severity, Reporter`},
		"columns missing": {
			file: workbook(t, [][]any{{"Title", "Category", "Date"}}),
			want: `sheet "Sheet1": the header has no column Reported at, Severity, Reporter: every incident needs them`,
		},
		"a column twice": {
			file: workbook(t, [][]any{{"Title", "Category", "Severity", "Reporter", "Reported at", "TITLE"}}),
			want: `sheet "Sheet1": the header names the column "Title" twice`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			result, err := Import(bytes.NewReader(tc.file), loc, now)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Import error = %v, want %q", err, tc.want)
			}
			if len(result.Incidents) != 0 {
				t.Errorf("Import made %d incidents from a sheet it refused", len(result.Incidents))
			}
		})
	}
}

// carried is what of an incident the control document carries back: the
// spec a person reports, less what only the operator or the API server
// writes.
func carried(inc securityv1alpha1.Incident) securityv1alpha1.Incident {
	spec := inc.Spec
	out := securityv1alpha1.Incident{
		TypeMeta:   metav1.TypeMeta{APIVersion: "security.incidentops.io/v1alpha1", Kind: "Incident"},
		ObjectMeta: metav1.ObjectMeta{Namespace: inc.Namespace, Name: inc.Name},
		Spec: securityv1alpha1.IncidentSpec{
			Title: spec.Title, Description: spec.Description,
			Type:     cmpOr(spec.Type, securityv1alpha1.TypeIncident),
			Category: spec.Category, Severity: spec.Severity,
			Reporter:   securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: spec.Reporter.Name, Email: spec.Reporter.Email}, Department: spec.Reporter.Department},
			Assets:     spec.Assets,
			Impact:     securityv1alpha1.Impact{PersonalData: spec.Impact.PersonalData, BusinessCritical: spec.Impact.BusinessCritical, SecurityBreach: spec.Impact.SecurityBreach},
			ReportedAt: mt(inc.ReportedAt()),
			AwareAt:    mt(inc.AwareAt()),
		},
	}
	if a := spec.Acknowledgement; a != nil {
		out.Spec.Acknowledgement = &securityv1alpha1.Acknowledgement{By: a.By}
	}
	if r := spec.Resolution; r != nil {
		out.Spec.Resolution = &securityv1alpha1.Resolution{State: r.State, By: r.By, Summary: r.Summary}
	}
	if n := spec.AuthorityNotification; n != nil {
		out.Spec.AuthorityNotification = &securityv1alpha1.AuthorityNotification{NotifiedAt: n.NotifiedAt, Reference: n.Reference, DelayReason: n.DelayReason}
	}
	return out
}

func cmpOr[T comparable](a, b T) T {
	var zero T
	if a != zero {
		return a
	}
	return b
}

func TestExportImportRoundTrip(t *testing.T) {
	loc := london(t)
	var buf bytes.Buffer
	if err := WriteXLSX(&buf, ControlDocument(fixtures, fixtureAssets, nil, loc, now)); err != nil {
		t.Fatal(err)
	}
	result, err := Import(&buf, loc, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(result.Errors) > 0 {
		t.Fatalf("errors: %v", result.Errors)
	}
	byName := map[string]ImportedIncident{}
	for _, inc := range result.Incidents {
		byName[inc.Incident.Name] = inc
	}
	if len(byName) != len(fixtures) {
		t.Fatalf("%d incidents, want %d", len(byName), len(fixtures))
	}
	for _, original := range fixtures {
		t.Run(original.Name, func(t *testing.T) {
			got, ok := byName[original.Name]
			if !ok {
				t.Fatalf("%s was not imported", original.Name)
			}
			if !got.ReportedAt.Equal(original.CreationTimestamp.Time) {
				t.Errorf("reported at %v, want %v", got.ReportedAt, original.CreationTimestamp.Time)
			}
			if want := carried(original); !reflect.DeepEqual(inUTC(got.Incident), inUTC(want)) {
				t.Errorf("imported\n%+v\nwant\n%+v", got.Incident, want)
			}
		})
	}
	// What the operator and the API server write is said to be left out,
	// once a column, and only for columns that held something.
	var warned []string
	for _, w := range result.Warnings {
		name, _, _ := strings.Cut(strings.TrimPrefix(w, `column "`), `"`)
		warned = append(warned, name)
	}
	wantWarned := []string{
		"Reported by account", "Supplier", "Supplier contacted via", "Major", "Escalation level", "Escalated to",
		"Acknowledged at", "Acknowledged by account", "Resolved at", "Resolved by account", "Hours to acknowledge",
		"Hours to resolve", "SLA met", "Authority deadline", "Authority notification", "Status",
	}
	if !slices.Equal(warned, wantWarned) {
		t.Errorf("warned of %q, want %q", warned, wantWarned)
	}
}

func TestParseTime(t *testing.T) {
	loc := london(t)
	p := rowParser{loc: loc}
	// 46266 is 2026-09-01 in the 1900 date system; 0.4375 of a day is 10:30.
	tests := map[string]struct {
		cell    string
		want    time.Time
		wantErr string
	}{
		"blank":                      {cell: ""},
		"a date cell":                {cell: "46266.4375", want: time.Date(2026, 9, 1, 10, 30, 0, 0, loc)},
		"a date cell a hair short":   {cell: "46266.437499999", want: time.Date(2026, 9, 1, 10, 30, 0, 0, loc)},
		"a date cell with no time":   {cell: "46266", want: time.Date(2026, 9, 1, 0, 0, 0, 0, loc)},
		"ISO with seconds":           {cell: "2026-09-01 10:30:15", want: time.Date(2026, 9, 1, 10, 30, 15, 0, loc)},
		"ISO":                        {cell: "2026-09-01 10:30", want: time.Date(2026, 9, 1, 10, 30, 0, 0, loc)},
		"RFC 3339 keeps its offset":  {cell: "2026-09-01T10:30:00Z", want: time.Date(2026, 9, 1, 11, 30, 0, 0, loc)},
		"a date":                     {cell: "2026-09-01", want: time.Date(2026, 9, 1, 0, 0, 0, 0, loc)},
		"day first":                  {cell: "01/09/2026 10:30", want: time.Date(2026, 9, 1, 10, 30, 0, 0, loc)},
		"day first, no time":         {cell: "01/09/2026", want: time.Date(2026, 9, 1, 0, 0, 0, 0, loc)},
		"in winter the clock is GMT": {cell: "2026-12-01 10:30", want: time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC)},
		"month first is refused":     {cell: "09/13/2026", wantErr: `"09/13/2026" is not a date and time: write it as 2006-01-02 15:04`},
		"a negative number":          {cell: "-1", wantErr: "-1 is not a date"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := p.time(tc.cell)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Errorf("time(%q) error = %v, want %q", tc.cell, err, tc.wantErr)
				}
				return
			}
			if err != nil || !got.Equal(tc.want) {
				t.Errorf("time(%q) = %v, %v, want %v", tc.cell, got, err, tc.want)
			}
		})
	}
}

func TestImportDuplicateNames(t *testing.T) {
	header := []any{"Name", "Namespace", "Reported at", "Title", "Category", "Severity", "Reporter"}
	rows := [][]any{
		header,
		{"keys", "finance", t0, "Keys lost", "Loss", "Low", "Kim"},
		{"keys", "housing", t0, "Keys lost", "Loss", "Low", "Kim"}, // another namespace: another incident
		{"keys", "finance", t0.Add(time.Hour), "Other keys lost", "Loss", "Low", "Kit"},
	}
	result, err := Import(bytes.NewReader(workbook(t, rows)), time.UTC, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []RowError{{4, "Name", "keys is also the name of row 2"}}
	if !slices.Equal(result.Errors, want) || len(result.Incidents) != 2 {
		t.Errorf("errors = %v, %d incidents; want %v and 2", result.Errors, len(result.Incidents), want)
	}
}
