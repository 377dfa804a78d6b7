package report

// Import: a control document kept as a spreadsheet, by this package or by
// a person using the same header row, read back as Incidents. Every row is
// checked against what the CRD accepts before anything is created, so the
// caller can create all the good ones or none, and tell the person which
// rows are wrong and why.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// ImportResult is every row of a spreadsheet: imported, or wrong.
type ImportResult struct {
	// Incidents are the rows that make valid Incidents.
	Incidents []ImportedIncident
	// Errors name every problem of every other row, in row order.
	Errors []RowError
	// Warnings are about the sheet, not a row: a column that is not
	// imported, each said once.
	Warnings []string
}

// ImportedIncident is an Incident made from one row.
type ImportedIncident struct {
	// Row is the row's number in the sheet, counting the header.
	Row int
	// ReportedAt is when the incident was originally reported. The
	// Incident API has no field for it yet, so it is kept here.
	ReportedAt time.Time
	Incident   securityv1alpha1.Incident
}

// RowError is one reason a row cannot be imported.
type RowError struct {
	Row    int
	Column string
	Reason string
}

func (e RowError) Error() string { return fmt.Sprintf("row %d, %s: %s", e.Row, e.Column, e.Reason) }

// requiredColumns must be in the header: without them no row can be an
// incident.
var requiredColumns = []string{"Reported at", "Title", "Category", "Severity", "Reporter"}

// Import reads the first sheet of an XLSX workbook whose first non-blank
// row is a header naming control document columns, in any order and any
// case. Times written as text are read in loc; now is the latest time a
// row may give. An error means the workbook could not be read at all, or
// is beyond the limits (MaxWorkbookBytes and the others): then no row is
// returned.
func Import(r io.Reader, loc *time.Location, now time.Time) (ImportResult, error) {
	var result ImportResult
	f, err := openWorkbook(r)
	if err != nil {
		return result, err
	}
	defer func() { _ = f.Close() }()
	props, err := f.GetWorkbookProps()
	if err != nil {
		return result, fmt.Errorf("reading the workbook: %w", err)
	}
	sheet := f.GetSheetName(0)
	// Row by row, so a sheet of more than MaxImportRows rows is refused
	// when its row after the last allowed is read, not once all are.
	rows, err := f.Rows(sheet)
	if err != nil {
		return result, fmt.Errorf("reading sheet %q: %w", sheet, err)
	}
	defer func() { _ = rows.Close() }()
	var h *header
	p := rowParser{loc: loc, now: now, date1904: props.Date1904 != nil && *props.Date1904}
	seen := map[string]int{}
	lost := map[int]bool{}
	incidents := 0
	// The row's number in the sheet: excelize's iterator stops at every
	// number, those with no cells too.
	for number := 1; rows.Next(); number++ {
		cells, err := rows.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			return ImportResult{}, fmt.Errorf("reading sheet %q, row %d: %w", sheet, number, err)
		}
		if blank(cells) {
			continue
		}
		if h == nil {
			read, err := readHeader(cells)
			if err != nil {
				return result, fmt.Errorf("sheet %q: %w", sheet, err)
			}
			h = &read
			result.Warnings = h.warnings
			continue
		}
		if incidents++; incidents > MaxImportRows {
			return ImportResult{}, fmt.Errorf("sheet %q has more than %d rows of incidents (row %d is one more), the most one import takes: split the document", sheet, MaxImportRows, number)
		}
		r, inc, problems := p.row(*h, cells, lost)
		if len(problems) == 0 {
			key := inc.Namespace + "/" + inc.Name
			if first, dup := seen[key]; dup && r.Name == "" {
				problems = append(problems, problem{"Name", fmt.Sprintf("the same report as row %d (the same report time, reporter and title), so the same incident, %s", first, inc.Name)})
			} else if dup {
				problems = append(problems, problem{"Name", fmt.Sprintf("%s is also the name of row %d", inc.Name, first)})
			}
			seen[key] = number
		}
		if len(problems) > 0 {
			for _, pr := range problems {
				result.Errors = append(result.Errors, RowError{Row: number, Column: pr.column, Reason: pr.reason})
			}
			continue
		}
		result.Incidents = append(result.Incidents, ImportedIncident{Row: number, ReportedAt: r.ReportedAt, Incident: inc})
	}
	if err := rows.Error(); err != nil {
		return ImportResult{}, fmt.Errorf("reading sheet %q: %w", sheet, err)
	}
	if h == nil {
		return result, fmt.Errorf("sheet %q is empty: it needs a header row naming the columns %s", sheet, strings.Join(requiredColumns, ", "))
	}
	for _, c := range slices.Sorted(maps.Keys(lost)) {
		col := columns[c]
		result.Warnings = append(result.Warnings, fmt.Sprintf("column %q is not imported: %s", col.name, col.derived))
	}
	return result, nil
}

func blank(row []string) bool {
	return !slices.ContainsFunc(row, func(c string) bool { return strings.TrimSpace(c) != "" })
}

// header maps the sheet's columns to the control document's.
type header struct {
	// columns maps a sheet column's index to its index in columns.
	columns  map[int]int
	warnings []string
}

func readHeader(row []string) (header, error) {
	h := header{columns: map[int]int{}}
	byName := map[string]int{}
	for i, c := range columns {
		byName[headerKey(c.name)] = i
	}
	found := map[int]bool{}
	for i, cell := range row {
		if strings.TrimSpace(cell) == "" {
			continue
		}
		c, known := byName[headerKey(cell)]
		if !known {
			h.warnings = append(h.warnings, fmt.Sprintf("column %q is not a column of the control document: it is not imported", strings.TrimSpace(cell)))
			continue
		}
		if found[c] {
			return h, fmt.Errorf("the header names the column %q twice", columns[c].name)
		}
		found[c] = true
		h.columns[i] = c
	}
	var missing []string
	for _, name := range requiredColumns {
		if !found[byName[headerKey(name)]] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return h, fmt.Errorf("the header has no column %s: every incident needs them", strings.Join(missing, ", "))
	}
	return h, nil
}

// headerKey matches header names whatever their case and spacing.
func headerKey(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// problem is one reason a row cannot be imported, before the row's number
// is known.
type problem struct{ column, reason string }

type rowParser struct {
	loc      *time.Location
	now      time.Time
	date1904 bool
}

// row parses one row's cells into a Row, then makes the Incident. lost
// collects the derived columns that hold something the import drops.
func (p rowParser) row(h header, cells []string, lost map[int]bool) (Row, securityv1alpha1.Incident, []problem) {
	var r Row
	var problems []problem
	for i, cell := range cells {
		c, ok := h.columns[i]
		if !ok {
			continue
		}
		col := columns[c]
		cell = strings.TrimSpace(cell)
		if col.set == nil {
			if cell != "" {
				lost[c] = true
			}
			continue
		}
		v, err := p.cell(col.kind, cell)
		if err != nil {
			problems = append(problems, problem{col.name, err.Error()})
			continue
		}
		col.set(&r, v)
	}
	// Every problem of the row is named at once; a cell that did not parse
	// is not also called missing.
	unparsed := slices.Clone(problems)
	inc, checked := p.incident(&r)
	for _, pr := range checked {
		if !slices.ContainsFunc(unparsed, func(q problem) bool { return q.column == pr.column }) {
			problems = append(problems, pr)
		}
	}
	return r, inc, problems
}

// dateLayouts are the ways people write a date and time as text. Dates
// are day first, as in the UK, where the policies this serves come from.
var dateLayouts = []string{
	time.RFC3339,
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
	"02/01/2006 15:04:05",
	"02/01/2006 15:04",
	"02/01/2006",
}

// cell parses one cell to its column's kind.
func (p rowParser) cell(k kind, s string) (value, error) {
	switch k {
	case kindList:
		parts := strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || r == '\n' })
		var list []string
		for _, part := range parts {
			if part = strings.TrimSpace(part); part != "" {
				list = append(list, part)
			}
		}
		return list, nil
	case kindBool:
		switch strings.ToLower(s) {
		case "", "no", "n", "false", "0":
			return false, nil
		case "yes", "y", "true", "1":
			return true, nil
		}
		return nil, fmt.Errorf("%q is neither Yes nor No", s)
	case kindTime:
		return p.time(s)
	}
	return s, nil
}

// time reads a date cell (a number of days since the workbook's epoch) or a
// date written as text.
func (p rowParser) time(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if days, err := strconv.ParseFloat(s, 64); err == nil {
		t, err := excelize.ExcelDateToTime(days, p.date1904)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s is not a date", s)
		}
		// A date cell is the time of day people read, with no zone: the
		// document's. excelize has rounded its fraction of a day to the
		// second.
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, p.loc), nil
	}
	for _, layout := range dateLayouts {
		if t, err := time.ParseInLocation(layout, s, p.loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date and time: write it as %s", s, timeLayout)
}

// incident checks a parsed row as the CRD would, and makes its Incident.
func (p rowParser) incident(r *Row) (securityv1alpha1.Incident, []problem) {
	c := &checks{}
	switch {
	case r.Title == "":
		c.fail("Title", "missing: every incident needs a one-line title")
	case !visible.MatchString(r.Title):
		c.fail("Title", "blank: it needs a letter, digit, punctuation mark or symbol")
	}
	c.limit("Title", r.Title, maxTitle)
	c.limit("Description", r.Description, maxDescription)
	typ := enum(c, "Type", r.Type, Types, securityv1alpha1.TypeIncident)
	category := enum(c, "Category", r.Category, Categories, "")
	severity := enum(c, "Severity", r.Severity, Severities, "")
	if r.Reporter == "" {
		c.fail("Reporter", "missing: every incident needs the name of who reported it")
	}
	c.limit("Reporter", r.Reporter, maxName)
	if r.ReporterEmail != "" && (!emailAddress.MatchString(r.ReporterEmail) || len(r.ReporterEmail) > maxEmail) {
		c.fail("Reporter email", "%q is not an e-mail address such as name@example.org", r.ReporterEmail)
	}
	c.limit("Department", r.Department, maxName)
	assets(r.Assets, c)

	switch {
	case r.ReportedAt.IsZero():
		c.fail("Reported at", "missing: when the incident was reported")
	case r.ReportedAt.After(p.now):
		c.fail("Reported at", "%s is in the future", r.ReportedAt.Format(timeLayout))
	}
	aware := r.AwareAt
	if aware.IsZero() {
		// The organisation knew at the latest when it was told; left to the
		// API server, awareAt would become the time of the import.
		aware = r.ReportedAt
	}
	if !r.ReportedAt.IsZero() && aware.After(r.ReportedAt) {
		c.fail("Aware at", "%s is after the report at %s: the organisation knew when it was told", aware.Format(timeLayout), r.ReportedAt.Format(timeLayout))
	}

	spec := securityv1alpha1.IncidentSpec{
		Title:       r.Title,
		Description: r.Description,
		Type:        typ,
		Category:    category,
		Severity:    severity,
		Reporter: securityv1alpha1.Reporter{
			Contact:    securityv1alpha1.Contact{Name: r.Reporter, Email: r.ReporterEmail},
			Department: r.Department,
		},
		Assets: r.Assets,
		Impact: securityv1alpha1.Impact{
			PersonalData:     r.PersonalData,
			BusinessCritical: r.BusinessCritical,
			SecurityBreach:   r.SecurityBreach,
		},
		ReportedAt: metaTime(r.ReportedAt),
		AwareAt:    metaTime(aware),
	}
	if r.AcknowledgedBy != "" {
		c.limit("Acknowledged by", r.AcknowledgedBy, maxName)
		spec.Acknowledgement = &securityv1alpha1.Acknowledgement{By: r.AcknowledgedBy}
	}
	spec.Resolution = resolution(r, c)
	spec.AuthorityNotification = p.authority(r, aware, c)

	name := p.name(r, c)
	if r.Namespace != "" {
		for _, msg := range validation.IsDNS1123Label(r.Namespace) {
			c.fail("Namespace", "%q is not a namespace name: %s", r.Namespace, msg)
		}
	}
	return securityv1alpha1.Incident{
		TypeMeta:   metav1.TypeMeta{APIVersion: securityv1alpha1.GroupVersion.String(), Kind: "Incident"},
		ObjectMeta: metav1.ObjectMeta{Namespace: r.Namespace, Name: name},
		Spec:       spec,
	}, c.problems
}

// checks collects a row's problems.
type checks struct{ problems []problem }

func (c *checks) fail(column, format string, args ...any) {
	c.problems = append(c.problems, problem{column, fmt.Sprintf(format, args...)})
}

// limit is the CRD's MaxLength, which counts characters, not bytes.
func (c *checks) limit(column, s string, max int) {
	if n := utf8.RuneCountInString(s); n > max {
		c.fail(column, "%d characters, more than the %d allowed", n, max)
	}
}

// enum is the valid value s names, or a problem with the column. A blank
// cell is def, and missing when def is blank.
func enum[T ~string](c *checks, column string, s T, valid []T, def T) T {
	v, ok := enumValue(string(s), valid, def)
	switch {
	case ok:
	case s == "":
		c.fail(column, "missing: one of %s", joined(valid))
	default:
		c.fail(column, "unknown %s %q: one of %s", strings.ToLower(column), s, joined(valid))
	}
	return v
}

func assets(assets []string, c *checks) {
	if len(assets) > maxAssets {
		c.fail("System or asset", "%d assets, more than the %d allowed", len(assets), maxAssets)
	}
	for i, a := range assets {
		switch {
		case len(a) > maxAssetName || !assetName.MatchString(a):
			c.fail("System or asset", "%q is not the name of an Asset: lower-case letters, digits, '-' and '.'", a)
		case slices.Index(assets, a) < i && slices.Index(assets[i+1:], a) < 0:
			// Said once, at the last time the name is repeated.
			c.fail("System or asset", "%q is named more than once", a)
		}
	}
}

func resolution(r *Row, c *checks) *securityv1alpha1.Resolution {
	if r.Resolution == "" && r.ResolvedBy == "" {
		if r.ResolutionSummary != "" {
			c.fail("Resolved by", "missing: the row has a resolution summary, so it needs who resolved it")
		}
		return nil
	}
	state := enum(c, "Resolution", r.Resolution, ResolutionStates, securityv1alpha1.ResolutionResolved)
	if r.ResolvedBy == "" {
		c.fail("Resolved by", "missing: the row is resolved, so it needs who resolved it")
	}
	c.limit("Resolved by", r.ResolvedBy, maxName)
	c.limit("Resolution summary", r.ResolutionSummary, maxSummary)
	return &securityv1alpha1.Resolution{State: state, By: r.ResolvedBy, Summary: r.ResolutionSummary}
}

// authority applies the CRD's rules on the report to the supervisory
// authority: only for personal data, not before awareness, and with a
// reason when it was more than 72 hours after.
func (p rowParser) authority(r *Row, aware time.Time, c *checks) *securityv1alpha1.AuthorityNotification {
	at := r.AuthorityNotifiedAt
	if at.IsZero() {
		if r.AuthorityReference != "" || r.AuthorityDelay != "" {
			c.fail("Authority notified at", "missing: the row has an authority reference or delay reason, so it needs when the authority was told")
		}
		return nil
	}
	if !r.PersonalData {
		c.fail("Personal data", "No, but the authority was told: only personal data breaches are reported to it")
	}
	switch {
	case at.After(p.now):
		c.fail("Authority notified at", "%s is in the future", at.Format(timeLayout))
	case !aware.IsZero() && at.Before(aware):
		c.fail("Authority notified at", "%s is before the organisation knew, at %s", at.Format(timeLayout), aware.Format(timeLayout))
	case !aware.IsZero() && at.After(aware.Add(securityv1alpha1.AuthorityNotificationWithin)) && r.AuthorityDelay == "":
		c.fail("Authority delay reason", "missing: the authority was told more than 72 hours after the organisation knew, so the reason is required (GDPR Art. 33(1))")
	}
	c.limit("Authority reference", r.AuthorityReference, maxReference)
	c.limit("Authority delay reason", r.AuthorityDelay, maxDelayReason)
	return &securityv1alpha1.AuthorityNotification{
		NotifiedAt:  metav1.NewTime(at),
		Reference:   r.AuthorityReference,
		DelayReason: r.AuthorityDelay,
	}
}

// name is the row's own name when it has one (a document this package
// wrote), and otherwise one made from what identifies a report: when, who
// and what. The same row imported again gets the same name, so the caller
// finds the incident it made before; a corrected severity or description
// does not make it a new incident.
func (p rowParser) name(r *Row, c *checks) string {
	if r.Name != "" {
		for _, msg := range validation.IsDNS1123Subdomain(r.Name) {
			c.fail("Name", "%q is not an Incident name: %s", r.Name, msg)
		}
		return r.Name
	}
	if r.ReportedAt.IsZero() {
		return ""
	}
	sum := sha256.Sum256([]byte(r.ReportedAt.UTC().Format(time.RFC3339) + "\x00" + r.Reporter + "\x00" + r.Title))
	return "imported-" + r.ReportedAt.In(p.loc).Format("20060102") + "-" + hex.EncodeToString(sum[:5])
}

func metaTime(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	m := metav1.NewTime(t)
	return &m
}

// enumValue is the valid value s names, matched whatever its case, spaces,
// hyphens and underscores ("false positive" is FalsePositive); blank is
// def, and not valid when def is blank.
func enumValue[T ~string](s string, valid []T, def T) (T, bool) {
	if s == "" {
		return def, def != ""
	}
	key := enumKey(s)
	for _, v := range valid {
		if enumKey(string(v)) == key {
			return v, true
		}
	}
	return "", false
}

func enumKey(s string) string {
	return strings.ToLower(strings.NewReplacer(" ", "", "-", "", "_", "").Replace(s))
}

func joined[T ~string](values []T) string {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}
