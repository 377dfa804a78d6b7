package report

import (
	"bytes"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

func hoursOf(hs ...float64) []time.Duration {
	ds := make([]time.Duration, len(hs))
	for i, h := range hs {
		ds[i] = time.Duration(h * float64(time.Hour))
	}
	return ds
}

func TestSpread(t *testing.T) {
	tests := map[string]struct {
		hours       []float64
		median, p90 float64
	}{
		// Nearest rank: the value at rank ceil(p/100 × n).
		"one value":                       {hours: []float64{7}, median: 7, p90: 7},
		"two: the lower is the median":    {hours: []float64{1, 2}, median: 1, p90: 2},
		"four":                            {hours: []float64{1, 2, 3, 4}, median: 2, p90: 4},
		"seven: ranks 4 and 7, not 6":     {hours: []float64{1, 2, 3, 4, 5, 6, 7}, median: 4, p90: 7},
		"ten: ranks 5 and 9":              {hours: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, median: 5, p90: 9},
		"eleven: ranks 6 and 10":          {hours: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, median: 6, p90: 10},
		"twenty: ranks 10 and 18":         {hours: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, median: 10, p90: 18},
		"unsorted, with a long tail":      {hours: []float64{30, 0.5, 2, 1, 1.5}, median: 1.5, p90: 30},
		"equal values":                    {hours: []float64{3, 3, 3}, median: 3, p90: 3},
		"fractions of an hour stay exact": {hours: []float64{0.25, 0.75}, median: 0.25, p90: 0.75},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := spread(hoursOf(tc.hours...))
			want := Spread{N: len(tc.hours), Median: hoursOf(tc.median)[0], P90: hoursOf(tc.p90)[0]}
			if got != want {
				t.Errorf("spread = %+v, want %+v", got, want)
			}
		})
	}
	if got := spread(nil); got != (Spread{}) {
		t.Errorf("spread(nil) = %+v, want zero", got)
	}
}

// periodRows are a month of rows, with one just outside each end.
func periodRows(loc *time.Location) (rows []Row, from, to, summaryNow time.Time) {
	from = time.Date(2026, 10, 1, 0, 0, 0, 0, loc)
	to = time.Date(2026, 11, 1, 0, 0, 0, 0, loc)
	summaryNow = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	day := func(d, h int) time.Time { return time.Date(2026, 10, d, h, 0, 0, 0, loc) }
	after := func(t time.Time, h float64) time.Time { return t.Add(time.Duration(h * float64(time.Hour))) }
	r1 := Row{Namespace: "a", Name: "r1", ReportedAt: from, Type: "Incident", Category: "Loss", Severity: "High",
		AcknowledgedAt: after(from, 1), ResolvedAt: after(from, 10), Resolution: "Resolved",
		SLA: SLAMet, Authority: AuthorityOnTime, Major: true, Suppliers: []string{"Capita One"}}
	r2 := Row{Namespace: "a", Name: "r2", ReportedAt: day(2, 9), Type: "Incident", Category: "Phishing", Severity: "Medium",
		AcknowledgedAt: after(day(2, 9), 2), ResolvedAt: after(day(2, 9), 20), Resolution: "Resolved",
		SLA: SLAMet, Authority: AuthorityLate}
	r3 := Row{Namespace: "b", Name: "r3", ReportedAt: day(3, 12), Type: "Incident", Category: "Loss", Severity: "High",
		AcknowledgedAt: after(day(3, 12), 3), SLA: SLAPending, Authority: AuthorityOverdue, Major: true, Title: "Laptop stolen",
		Suppliers: []string{"Walsall MBC"}, SupplierContacts: []string{"Help desk: IT Service Desk"}, Phase: "Acknowledged"}
	r4 := Row{Namespace: "b", Name: "r4", ReportedAt: day(4, 9), Type: "Weakness", Category: "PasswordExposure", Severity: "Low",
		AcknowledgedAt: after(day(4, 9), 4), ResolvedAt: after(day(4, 9), 40), Resolution: "Resolved",
		SLA: SLAMissed, Authority: AuthorityDue}
	r5 := Row{Namespace: "a", Name: "r5", ReportedAt: to.Add(-time.Nanosecond), Type: "Weakness", Category: "Malware", Severity: "Critical",
		SLA: SLAPending}
	r8 := Row{Namespace: "c", Name: "r8", ReportedAt: day(10, 9), Type: "Incident", Category: "Theft", Severity: "Low",
		ResolvedAt: after(day(10, 9), 5), Resolution: "Resolved", SLA: SLAMet, Authority: AuthorityNotRequired}
	atTo := Row{Namespace: "a", Name: "at-to", ReportedAt: to, Type: "Incident", Category: "Loss", Severity: "High",
		SLA: SLAMissed, Authority: AuthorityLate, Major: true, Suppliers: []string{"X"}}
	before := Row{Namespace: "a", Name: "before", ReportedAt: from.Add(-time.Nanosecond), Type: "Weakness", Category: "Loss", Severity: "High",
		AcknowledgedAt: from, SLA: SLAMissed, Major: true}
	return []Row{before, r1, r2, r3, r4, r8, r5, atTo}, from, to, summaryNow
}

func names(rows []Row) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Name)
	}
	return out
}

func TestSummarise(t *testing.T) {
	loc := london(t)
	rows, from, to, summaryNow := periodRows(loc)
	s := Summarise(rows, from, to, summaryNow)

	if s.Reported != 6 {
		t.Errorf("Reported = %d, want 6: from is in the period, to is not", s.Reported)
	}
	counts := map[string]struct{ got, want []Count }{
		"ByCategory":  {s.ByCategory, []Count{{"Loss", 2}, {"Malware", 1}, {"PasswordExposure", 1}, {"Phishing", 1}, {"Theft", 1}}},
		"BySeverity":  {s.BySeverity, []Count{{"High", 2}, {"Low", 2}, {"Critical", 1}, {"Medium", 1}}},
		"ByNamespace": {s.ByNamespace, []Count{{"a", 3}, {"b", 2}, {"c", 1}}},
		"ByType":      {s.ByType, []Count{{"Incident", 4}, {"Weakness", 2}}},
	}
	for name, c := range counts {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s = %v, want %v", name, c.got, c.want)
		}
	}
	// Acknowledged after 1, 2, 3, 4 and (r8, at its resolution) 5 hours:
	// ranks 3 and 5 of 5. Resolved after 5, 10, 20, 40: ranks 2 and 4.
	if want := (Spread{N: 5, Median: 3 * time.Hour, P90: 5 * time.Hour}); s.TimeToAcknowledge != want {
		t.Errorf("TimeToAcknowledge = %+v, want %+v", s.TimeToAcknowledge, want)
	}
	if want := (Spread{N: 4, Median: 10 * time.Hour, P90: 40 * time.Hour}); s.TimeToResolve != want {
		t.Errorf("TimeToResolve = %+v, want %+v", s.TimeToResolve, want)
	}
	if want := (SLATally{Met: 3, Missed: 1, Pending: 2}); s.SLA != want {
		t.Errorf("SLA = %+v, want %+v", s.SLA, want)
	}
	if percent, ok := s.SLA.MetPercent(); !ok || percent != 75 {
		t.Errorf("SLA met = %v%% (%v), want 75%%: 3 of the 4 decided", percent, ok)
	}
	if want := (AuthorityTally{OnTime: 1, Late: 1, Due: 1, Overdue: 1, NotRequired: 1}); s.Authority != want {
		t.Errorf("Authority = %+v, want %+v", s.Authority, want)
	}
	if s.Authority.Outstanding() != 2 {
		t.Errorf("Outstanding = %d, want 2", s.Authority.Outstanding())
	}
	lists := map[string]struct{ got, want []string }{
		"Major":            {names(s.Major), []string{"r1", "r3"}},
		"OpenWithSupplier": {names(s.OpenWithSupplier), []string{"r3"}},
		"Weaknesses":       {names(s.Weaknesses), []string{"r4", "r5"}},
	}
	for name, l := range lists {
		if !slices.Equal(l.got, l.want) {
			t.Errorf("%s = %v, want %v", name, l.got, l.want)
		}
	}
	// r3 was reported at noon BST on 3 October; now is 09:00 UTC on 2
	// November: 30 days less 2 hours.
	if got, want := s.OpenWithSupplier[0].Age(summaryNow), 30*24*time.Hour-2*time.Hour; got != want {
		t.Errorf("age = %v, want %v", got, want)
	}
}

func TestSummaryPeriodBoundaries(t *testing.T) {
	loc := london(t)
	from := time.Date(2026, 10, 1, 0, 0, 0, 0, loc)
	to := time.Date(2026, 10, 8, 0, 0, 0, 0, loc)
	tests := map[string]struct {
		reported time.Time
		counted  bool
	}{
		"at from":                 {reported: from, counted: true},
		"a nanosecond before":     {reported: from.Add(-time.Nanosecond)},
		"a nanosecond before to":  {reported: to.Add(-time.Nanosecond), counted: true},
		"at to":                   {reported: to},
		"at from, given in UTC":   {reported: from.UTC(), counted: true},
		"midnight UTC is 1am BST": {reported: time.Date(2026, 10, 8, 0, 0, 0, 0, time.UTC)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := Summarise([]Row{{ReportedAt: tc.reported, Type: "Incident"}}, from, to, now)
			if got := s.Reported == 1; got != tc.counted {
				t.Errorf("counted = %v, want %v", got, tc.counted)
			}
		})
	}
}

func TestSummaryEmptyPeriod(t *testing.T) {
	loc := london(t)
	rows, _, _, summaryNow := periodRows(loc)
	from := time.Date(2027, 1, 1, 0, 0, 0, 0, loc)
	s := Summarise(rows, from, from.AddDate(0, 1, 0), summaryNow)
	want := Summary{From: from, To: from.AddDate(0, 1, 0), Now: summaryNow}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Summarise = %+v, want nothing counted", s)
	}
	if _, ok := s.SLA.MetPercent(); ok {
		t.Error("MetPercent is ok with nothing decided")
	}
}

func TestWriteSummaryMarkdown(t *testing.T) {
	rows, from, to, summaryNow := periodRows(london(t))
	empty := from.AddDate(1, 0, 0)
	tests := map[string]struct {
		summary Summary
		want    []string
	}{
		"a month": {
			summary: Summarise(rows, from, to, summaryNow),
			want: []string{
				"# Information security incidents reported from 2026-10-01 00:00 to 2026-11-01 00:00\n",
				"| Reported | 6 |",
				"| Median hours to acknowledge | 3.00 |",
				"| 90th percentile hours to acknowledge | 5.00 |",
				"| Median hours to resolve | 10.00 |",
				"| 90th percentile hours to resolve | 40.00 |",
				"| SLA met (% of met and missed) | 75.00 |",
				"| Authority told late | 1 |",
				"| Authority not told yet | 2 |",
				"| Authority not told yet, past the deadline | 1 |",
				"## By category\n\n| Category | Incidents |\n| --- | --- |\n| Loss | 2 |\n| Malware | 1 |",
				"## By namespace\n\n| Namespace | Incidents |\n| --- | --- |\n| a | 3 |\n| b | 2 |\n| c | 1 |\n",
				"| b | r3 | 2026-10-03 12:00 | Laptop stolen | Loss | High | Acknowledged | Walsall MBC | Help desk: IT Service Desk | 29.92 |",
			},
		},
		"an empty period": {
			summary: Summarise(rows, empty, empty.AddDate(0, 1, 0), summaryNow),
			want: []string{
				"| Reported | 0 |",
				"| Median hours to acknowledge |  |",
				"| SLA met (% of met and missed) |  |",
				"## By category\n\nNone.\n",
				"## Major incidents\n\nNone.\n",
				"## Weaknesses\n\nNone.\n",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteSummaryMarkdown(&buf, tc.summary); err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.want {
				if !strings.Contains(buf.String(), want) {
					t.Errorf("markdown has no %q:\n%s", want, buf.String())
				}
			}
		})
	}
}

func TestWriteSummaryXLSX(t *testing.T) {
	rows, from, to, summaryNow := periodRows(london(t))
	s := Summarise(rows, from, to, summaryNow)
	var buf bytes.Buffer
	if err := WriteSummaryXLSX(&buf, s); err != nil {
		t.Fatal(err)
	}
	f := openXLSX(t, buf.Bytes())
	tables := s.tables()
	wantSheets := []string{"Overview", "By category", "By severity", "By namespace", "By type", "Major incidents", "Open with a supplier", "Weaknesses"}
	if got := f.GetSheetList(); !slices.Equal(got, wantSheets) {
		t.Fatalf("sheets = %v, want %v", got, wantSheets)
	}
	for i, tb := range tables {
		checkTableLayout(t, buf.Bytes(), f, i+1, tb)
		for r, row := range tb.rows {
			for c, v := range row {
				cell, _ := excelize.CoordinatesToCellName(c+1, r+2)
				checkCell(t, f, tb.title, cell, v)
			}
		}
	}
	// By hand: the period is a date, the measures numbers.
	checkCell(t, f, "Overview", "B2", from)
	checkCell(t, f, "Overview", "B4", 6)
	checkCell(t, f, "Overview", "B6", 3.0)
	checkCell(t, f, "By category", "A2", "Loss")
	checkCell(t, f, "By category", "B2", 2)
	age, _ := f.GetCellValue("Open with a supplier", "J2", excelize.Options{RawCellValue: true})
	if got := parseFloat(t, age); math.Abs(got-(30-2.0/24)) > 1e-9 {
		t.Errorf("age = %v days, want 29.92", got)
	}
}

func parseFloat(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q is not a number", s)
	}
	return v
}
