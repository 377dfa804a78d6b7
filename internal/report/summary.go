package report

// The summary for the review group (SH 4.3, 5): what was reported in a
// period, how fast it was taken on and closed, and what is still waiting.

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Summary is the review group's report for one period.
type Summary struct {
	// From and To bound the period: incidents reported at or after From and
	// before To are counted. Now is when the summary was made; open
	// incidents are open then, and their age is counted to then.
	From, To, Now time.Time

	// Reported is how many incidents and weaknesses were reported.
	Reported    int
	ByCategory  []Count
	BySeverity  []Count
	ByNamespace []Count
	ByType      []Count

	// TimeToAcknowledge and TimeToResolve are counted from the report.
	TimeToAcknowledge Spread
	TimeToResolve     Spread

	SLA       SLATally
	Authority AuthorityTally

	// Major are the major incidents.
	Major []Row
	// OpenWithSupplier are the incidents still open whose assets have a
	// supplier. Lists keep the order of the rows given (the control
	// document's: oldest first).
	OpenWithSupplier []Row
	// Weaknesses are the weaknesses reported.
	Weaknesses []Row
}

// Count is how many incidents have one value of a field.
type Count struct {
	Value string
	N     int
}

// Spread is the median and the 90th percentile of some durations, by the
// nearest-rank method: the p-th percentile of n sorted values is the value
// at rank ceil(p/100 × n), counting from 1. It is always one of the values
// (so the median of an even count is the lower of the middle two), and at
// least p% of the values are at or below it.
type Spread struct {
	N      int
	Median time.Duration
	P90    time.Duration
}

// SLATally counts the incidents that had a service-level target.
type SLATally struct {
	Met, Missed, Pending int
}

// MetPercent is the share of decided incidents (met or missed) that met
// every target; pending ones are not decided yet. ok is false when none
// is decided.
func (t SLATally) MetPercent() (percent float64, ok bool) {
	decided := t.Met + t.Missed
	if decided == 0 {
		return 0, false
	}
	return 100 * float64(t.Met) / float64(decided), true
}

// AuthorityTally counts personal data breaches by where their report to
// the supervisory authority stands.
type AuthorityTally struct {
	OnTime, Late, Due, Overdue, NotRequired int
}

// Outstanding are the breaches not reported yet.
func (t AuthorityTally) Outstanding() int { return t.Due + t.Overdue }

// Age is how long an incident has been open at now.
func (r *Row) Age(now time.Time) time.Duration { return now.Sub(r.ReportedAt) }

// Summarise summarises the control document's rows reported in [from, to).
// Rows carry the assets' suppliers, so the summary needs nothing else.
func Summarise(rows []Row, from, to, now time.Time) Summary {
	s := Summary{From: from, To: to, Now: now}
	byCategory, bySeverity, byNamespace, byType := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	var acknowledge, resolve []time.Duration
	for i := range rows {
		r := &rows[i]
		if r.ReportedAt.Before(from) || !r.ReportedAt.Before(to) {
			continue
		}
		s.Reported++
		byCategory[string(r.Category)]++
		bySeverity[string(r.Severity)]++
		byNamespace[r.Namespace]++
		byType[string(r.Type)]++
		if d, ok := r.TimeToAcknowledge(); ok {
			acknowledge = append(acknowledge, d)
		}
		if d, ok := r.TimeToResolve(); ok {
			resolve = append(resolve, d)
		}
		s.SLA.add(r.SLA)
		s.Authority.add(r.Authority)
		if r.Major {
			s.Major = append(s.Major, *r)
		}
		if r.Open() && len(r.Suppliers) > 0 {
			s.OpenWithSupplier = append(s.OpenWithSupplier, *r)
		}
		if r.Type == securityv1alpha1.TypeWeakness {
			s.Weaknesses = append(s.Weaknesses, *r)
		}
	}
	s.ByCategory, s.BySeverity, s.ByNamespace, s.ByType = counts(byCategory), counts(bySeverity), counts(byNamespace), counts(byType)
	s.TimeToAcknowledge, s.TimeToResolve = spread(acknowledge), spread(resolve)
	return s
}

func (t *SLATally) add(o SLAOutcome) {
	switch o {
	case SLAMet:
		t.Met++
	case SLAMissed:
		t.Missed++
	case SLAPending:
		t.Pending++
	}
}

func (t *AuthorityTally) add(o AuthorityOutcome) {
	switch o {
	case AuthorityOnTime:
		t.OnTime++
	case AuthorityLate:
		t.Late++
	case AuthorityDue:
		t.Due++
	case AuthorityOverdue:
		t.Overdue++
	case AuthorityNotRequired:
		t.NotRequired++
	}
}

// counts are the largest first, then by value.
func counts(m map[string]int) []Count {
	var out []Count
	for _, v := range slices.Sorted(maps.Keys(m)) {
		out = append(out, Count{Value: v, N: m[v]})
	}
	slices.SortStableFunc(out, func(a, b Count) int { return cmp.Compare(b.N, a.N) })
	return out
}

func spread(ds []time.Duration) Spread {
	if len(ds) == 0 {
		return Spread{}
	}
	slices.Sort(ds)
	return Spread{N: len(ds), Median: percentile(ds, 50), P90: percentile(ds, 90)}
}

// percentile is the nearest-rank p-th percentile of sorted, which is not
// empty.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 × n) in integers
	return sorted[max(rank, 1)-1]
}

// tables are the summary's tables, in the order a reader wants them: the
// overview first, then the counts, then the incidents to look at.
func (s Summary) tables() []table {
	countTable := func(title, field string, cs []Count) table {
		t := table{title: title, columns: []tableColumn{{field, 24}, {"Incidents", 10}}}
		for _, c := range cs {
			t.rows = append(t.rows, []value{c.Value, c.N})
		}
		return t
	}
	return []table{
		s.overview(),
		countTable("By category", "Category", s.ByCategory),
		countTable("By severity", "Severity", s.BySeverity),
		countTable("By namespace", "Namespace", s.ByNamespace),
		countTable("By type", "Type", s.ByType),
		incidentTable("Major incidents", s.Major),
		incidentTable("Open with a supplier", s.OpenWithSupplier,
			extraColumn{tableColumn{"Supplier", 20}, func(r *Row) value { return strings.Join(r.Suppliers, listSeparator) }},
			extraColumn{tableColumn{"Supplier contacted via", 36}, func(r *Row) value { return strings.Join(r.SupplierContacts, listSeparator) }},
			extraColumn{tableColumn{"Age (days)", 10}, func(r *Row) value { return r.Age(s.Now).Hours() / 24 }}),
		incidentTable("Weaknesses", s.Weaknesses),
	}
}

func (s Summary) overview() table {
	t := table{title: "Overview", columns: []tableColumn{{"Measure", 44}, {"Value", 16}}}
	add := func(measure string, v value) { t.rows = append(t.rows, []value{measure, v}) }
	add("Period from", s.From)
	add("Period to (not included)", s.To)
	add("Reported", s.Reported)
	for _, m := range []struct {
		name string
		s    Spread
	}{{"acknowledge", s.TimeToAcknowledge}, {"resolve", s.TimeToResolve}} {
		add("Incidents timed to "+m.name, m.s.N)
		add("Median hours to "+m.name, hours(m.s.Median, m.s.N > 0))
		add("90th percentile hours to "+m.name, hours(m.s.P90, m.s.N > 0))
	}
	percent, ok := s.SLA.MetPercent()
	add("SLA met (% of met and missed)", number(percent, ok))
	add("SLA met", s.SLA.Met)
	add("SLA missed", s.SLA.Missed)
	add("SLA pending", s.SLA.Pending)
	add("Authority told on time", s.Authority.OnTime)
	add("Authority told late", s.Authority.Late)
	add("Authority not told yet", s.Authority.Outstanding())
	add("Authority not told yet, past the deadline", s.Authority.Overdue)
	add("Major incidents", len(s.Major))
	add("Open with a supplier", len(s.OpenWithSupplier))
	add("Weaknesses reported", len(s.Weaknesses))
	return t
}

// extraColumn is a column some list of incidents adds to the common ones.
type extraColumn struct {
	tableColumn
	get func(*Row) value
}

// incidentTable lists incidents with the columns every list shares, and
// extra ones.
func incidentTable(title string, rows []Row, extra ...extraColumn) table {
	t := table{title: title, columns: []tableColumn{
		{"Namespace", 14}, {"Name", 28}, {"Reported at", 17}, {"Title", 40}, {"Category", 20}, {"Severity", 10}, {"Status", 13},
	}}
	for _, e := range extra {
		t.columns = append(t.columns, e.tableColumn)
	}
	for i := range rows {
		r := &rows[i]
		cells := []value{r.Namespace, r.Name, r.ReportedAt, r.Title, string(r.Category), string(r.Severity), string(r.Phase)}
		for _, e := range extra {
			cells = append(cells, e.get(r))
		}
		t.rows = append(t.rows, cells)
	}
	return t
}

// WriteSummaryMarkdown writes the summary as Markdown: a heading and a
// table for each part.
func WriteSummaryMarkdown(w io.Writer, s Summary) error {
	_, err := fmt.Fprintf(w, "# Information security incidents reported from %s to %s\n",
		s.From.Format(timeLayout), s.To.Format(timeLayout))
	for _, t := range s.tables() {
		if err != nil {
			return err
		}
		if _, err = fmt.Fprintf(w, "\n## %s\n\n", t.title); err != nil {
			return err
		}
		if len(t.rows) == 0 {
			_, err = io.WriteString(w, "None.\n")
			continue
		}
		err = writeMarkdownTable(w, t)
	}
	return err
}

// WriteSummaryXLSX writes the summary as an XLSX workbook, a sheet for
// each part.
func WriteSummaryXLSX(w io.Writer, s Summary) error {
	return writeWorkbook(w, s.tables())
}
