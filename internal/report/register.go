package report

// The register of personal data breaches that UK GDPR Art. 33(5) asks a
// controller to keep: every breach, told to the supervisory authority or
// not, with the facts, the decision whether to tell and its reasons, who
// decided, drafted, agreed and filed, when it was filed and how late, and
// whether the people whose data it is were told (Art. 34). Rows are built
// from the incidents and the Filings that record each stage; an incident
// stored before Filings existed counts its spec.authorityNotification as
// the notification, filed by whoever recorded it.

import (
	"cmp"
	"io"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// The stages the register records, known by the provisions they cite, as
// config/regimes/uk-gdpr.yaml ships them: whatever a cluster names the
// regime, a Filing and an obligation carry the stage's citation.
const (
	// NotificationCitation is the notification to the supervisory
	// authority.
	NotificationCitation = "UK GDPR Art. 33(1)"
	// CommunicationCitation is the communication to the data subjects.
	CommunicationCitation = "UK GDPR Art. 34(1)"
	// BreachRegime is the name the operator applies UK GDPR under by
	// default (--default-regimes): the regime of a notification recorded on
	// an incident before Filings existed.
	BreachRegime = "uk-gdpr"
)

// Filings are the Filings of incidents, by the incident's namespace and
// name.
type Filings map[types.NamespacedName][]securityv1alpha1.Filing

// FilingsOf indexes a list of Filings by the incident each records.
func FilingsOf(list []securityv1alpha1.Filing) Filings {
	filings := Filings{}
	for _, f := range list {
		key := types.NamespacedName{Namespace: f.Namespace, Name: f.Spec.Incident}
		filings[key] = append(filings[key], f)
	}
	return filings
}

// StageDecision is what was decided about a stage, in the register's words.
type StageDecision string

const (
	// DecisionUndecided: nobody has decided yet; the stage's clock runs.
	DecisionUndecided StageDecision = "Undecided"
	// DecisionRequired: decided required, or drafted, which stands for it.
	DecisionRequired StageDecision = "Required"
	// DecisionNotRequired: decided not required, with its reasons, and
	// agreed by as many people as the stage asks.
	DecisionNotRequired StageDecision = "Not required"
	// DecisionNotRequiredUnagreed: decided not required, but not agreed by
	// enough people yet, so the decision does not stand and the clock runs.
	DecisionNotRequiredUnagreed StageDecision = "Not required, awaiting agreement"
	// DecisionNotApplicable: never decided, and the incident was resolved
	// as a false positive or a duplicate: there was no breach to tell of.
	DecisionNotApplicable StageDecision = "Not applicable"
)

// StageRecord is what was recorded for one stage of the breach's regime.
// Accounts are as the API server attested them; times are in the
// register's time zone, a zero time a blank cell.
type StageRecord struct {
	Decision  StageDecision
	Rationale string
	Exemption securityv1alpha1.Exemption
	DecidedBy string
	DraftedBy string
	// AgreedBy are the accounts that agreed, in the order they agreed.
	AgreedBy []string
	// Content is the draft's, by field.
	Content map[string]string

	// Deadline is when the stage was due; zero when the rules give no fixed
	// time, its clock has not started, or it is not required.
	Deadline time.Time
	// Timeliness is how the stage stands against its deadline; empty when
	// it has none.
	Timeliness AuthorityOutcome
	// Late is how long after the deadline the stage was filed or, not
	// filed, how long past its deadline it is when the register is made;
	// zero when it is not late.
	Late time.Duration

	FiledAt     time.Time
	FiledBy     string
	Reference   string
	DelayReason string
	// CaseNumber is the one the recipient gave in its acknowledgement.
	CaseNumber string
}

// Breach is one personal data breach as the register shows it.
type Breach struct {
	Namespace, Name string
	Title           string
	Description     string
	Category        securityv1alpha1.IncidentCategory
	// AwareAt is when the organisation became aware of the breach: when the
	// regulator's clock started.
	AwareAt time.Time
	// Regimes are the regulatory regimes that apply to the incident.
	Regimes []string

	SpecialCategoryData bool
	// DataSubjects is the estimated number of people whose data is
	// involved, or nil when nobody has estimated it.
	DataSubjects *int32

	// Notification is the notification to the supervisory authority
	// (Art. 33), and Communication the one to the data subjects (Art. 34).
	Notification  StageRecord
	Communication StageRecord

	Resolution        securityv1alpha1.ResolutionState
	ResolvedAt        time.Time
	ResolutionSummary string
}

// BreachRegister is one row per incident that involves personal data,
// sorted by when the organisation became aware of it and then namespace
// and name, with times in loc. filings are the incidents' Filings; now
// decides whether a deadline nothing has met yet has passed.
func BreachRegister(incidents []securityv1alpha1.Incident, filings Filings, loc *time.Location, now time.Time) []Breach {
	var rows []Breach
	for i := range incidents {
		inc := &incidents[i]
		if !inc.Spec.Impact.PersonalData {
			continue
		}
		rows = append(rows, breachOf(inc, filings[types.NamespacedName{Namespace: inc.Namespace, Name: inc.Name}], loc, now))
	}
	slices.SortFunc(rows, func(a, b Breach) int {
		return cmp.Or(a.AwareAt.Compare(b.AwareAt), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return rows
}

func breachOf(inc *securityv1alpha1.Incident, filings []securityv1alpha1.Filing, loc *time.Location, now time.Time) Breach {
	spec := &inc.Spec
	b := Breach{
		Namespace:           inc.Namespace,
		Name:                inc.Name,
		Title:               spec.Title,
		Description:         spec.Description,
		Category:            spec.Category,
		AwareAt:             inZone(inc.AwareAt(), loc),
		Regimes:             regimesOf(inc, filings),
		SpecialCategoryData: spec.Impact.SpecialCategoryData,
		DataSubjects:        spec.Impact.DataSubjects,
		ResolvedAt:          inZone(timeOf(inc.Status.ResolvedAt), loc),
	}
	if r := spec.Resolution; r != nil {
		b.Resolution, b.ResolutionSummary = r.State, r.Summary
	}
	b.Notification = stageRecord(inc, filings, NotificationCitation, loc, now)
	b.Communication = stageRecord(inc, filings, CommunicationCitation, loc, now)
	return b
}

func inZone(t time.Time, loc *time.Location) time.Time {
	if t.IsZero() {
		return t
	}
	return t.In(loc)
}

// obligationFor is the operator's account of the stage that cites
// citation, or nil while it has none.
func obligationFor(inc *securityv1alpha1.Incident, citation string) *securityv1alpha1.ObligationStatus {
	for i := range inc.Status.Obligations {
		if o := &inc.Status.Obligations[i]; o.Citation == citation {
			return o
		}
	}
	return nil
}

// filingFor is the Filing that records the stage citing citation: the one
// the incident's obligation names, else one the operator opened under the
// name it gives a stage. Only the operator may open a Filing, so another
// that claims the stage under another name is not the record; and as the
// operator does, a Filing owned by an earlier incident of the same name is
// that one's.
func filingFor(inc *securityv1alpha1.Incident, filings []securityv1alpha1.Filing, citation string) *securityv1alpha1.Filing {
	named := ""
	if o := obligationFor(inc, citation); o != nil {
		named = o.Filing
	}
	for i := range filings {
		f := &filings[i]
		if f.Namespace != inc.Namespace || f.Spec.Incident != inc.Name || f.Spec.Citation != citation || !f.Of(inc) {
			continue
		}
		if f.Name == cmp.Or(named, securityv1alpha1.FilingName(inc.Name, f.Spec.Regime, f.Spec.Stage)) {
			return f
		}
	}
	return nil
}

// regimesOf are the regimes that apply to the incident: those the operator
// holds obligations for, then those of its Filings; with none, UK GDPR for
// a notification recorded on the incident itself.
func regimesOf(inc *securityv1alpha1.Incident, filings []securityv1alpha1.Filing) []string {
	var regimes []string
	add := func(r string) {
		if r != "" && !slices.Contains(regimes, r) {
			regimes = append(regimes, r)
		}
	}
	for _, o := range inc.Status.Obligations {
		add(o.Regime)
	}
	for i := range filings {
		if filings[i].Of(inc) {
			add(filings[i].Spec.Regime)
		}
	}
	if len(regimes) == 0 && inc.Spec.AuthorityNotification != nil {
		add(BreachRegime)
	}
	return regimes
}

// stageRecord is what the incident's Filings record for the stage citing
// citation, the incident's own authorityNotification standing in for a
// notification not filed on one.
func stageRecord(inc *securityv1alpha1.Incident, filings []securityv1alpha1.Filing, citation string, loc *time.Location, now time.Time) StageRecord {
	var r StageRecord
	if f := filingFor(inc, filings, citation); f != nil {
		r = filingRecord(f)
	}
	if n := inc.Spec.AuthorityNotification; n != nil && citation == NotificationCitation && r.FiledAt.IsZero() {
		r.FiledAt, r.Reference, r.DelayReason, r.FiledBy = n.NotifiedAt.Time, n.Reference, n.DelayReason, account(n.RecordedBy)
		if r.Decision == "" {
			r.Decision = DecisionRequired
		}
	}
	if r.Decision == "" {
		r.Decision = DecisionUndecided
		if res := inc.Spec.Resolution; res != nil && res.State != securityv1alpha1.ResolutionResolved {
			r.Decision = DecisionNotApplicable
		}
	}
	switch r.Decision {
	case DecisionNotRequired, DecisionNotApplicable:
		r.Timeliness = AuthorityNotRequired
	default:
		deadline := stageDeadline(inc, citation)
		if !deadline.IsZero() {
			r.Deadline = deadline
			r.Timeliness = timeliness(r.FiledAt, deadline, now)
		}
		switch r.Timeliness {
		case AuthorityLate:
			r.Late = r.FiledAt.Sub(deadline)
		case AuthorityOverdue:
			r.Late = now.Sub(deadline)
		}
	}
	r.Deadline, r.FiledAt = inZone(r.Deadline, loc), inZone(r.FiledAt, loc)
	return r
}

// filingRecord reads the steps recorded on f.
func filingRecord(f *securityv1alpha1.Filing) StageRecord {
	var r StageRecord
	spec := &f.Spec
	if d := spec.Decision; d != nil {
		r.Rationale, r.Exemption, r.DecidedBy = d.Rationale, d.Exemption, account(d.DecidedBy)
		r.Decision = DecisionRequired
		if d.Outcome == securityv1alpha1.FilingNotRequired {
			r.Decision = DecisionNotRequiredUnagreed
			if agreements(f) >= max(int(spec.AgreementsRequired), 1) {
				r.Decision = DecisionNotRequired
			}
		}
	}
	if d := spec.Draft; d != nil {
		r.DraftedBy = account(d.DraftedBy)
		r.Content = make(map[string]string, len(d.Content))
		for k, v := range d.Content {
			r.Content[k] = string(v)
		}
		if r.Decision == "" {
			// A draft stands for a decision that the stage is required.
			r.Decision = DecisionRequired
		}
	}
	for _, a := range spec.Agreements {
		r.AgreedBy = append(r.AgreedBy, account(a.By))
	}
	if s := spec.Filed; s != nil {
		r.FiledAt, r.Reference, r.DelayReason, r.FiledBy = s.At.Time, s.Reference, s.DelayReason, account(s.By)
	}
	if a := spec.Acknowledgement; a != nil {
		r.CaseNumber = a.CaseNumber
	}
	return r
}

// agreements counts the distinct people, the author never among them, who
// agreed to what f proposes.
func agreements(f *securityv1alpha1.Filing) int {
	author := account(f.Author())
	var people []string
	for _, a := range f.Spec.Agreements {
		if who := account(a.By); who != "" && who != author && !slices.Contains(people, who) {
			people = append(people, who)
		}
	}
	return len(people)
}

// stageDeadline is the stage's deadline as the operator worked it out, or
// for the notification of an incident it holds no obligations for, the
// deadline the operator kept before regimes (or 72 hours from awareness).
func stageDeadline(inc *securityv1alpha1.Incident, citation string) time.Time {
	if o := obligationFor(inc, citation); o != nil {
		return timeOf(o.Deadline)
	}
	if citation == NotificationCitation {
		return inc.AuthorityDeadline()
	}
	return time.Time{}
}

// registerColumns are the register's columns in order: the breach and its
// facts, the notification to the authority (Art. 33) with its effects and
// measures as drafted, the communication to the data subjects (Art. 34),
// and how the incident ended.
var registerColumns = []struct {
	tableColumn
	get func(*Breach) value
}{
	{tableColumn{"Namespace", 14}, func(b *Breach) value { return b.Namespace }},
	{tableColumn{"Incident", 28}, func(b *Breach) value { return b.Name }},
	{tableColumn{"Title", 40}, func(b *Breach) value { return b.Title }},
	{tableColumn{"Category", 20}, func(b *Breach) value { return string(b.Category) }},
	{tableColumn{"Aware at", 17}, func(b *Breach) value { return b.AwareAt }},
	{tableColumn{"Regimes", 16}, func(b *Breach) value { return b.Regimes }},
	{tableColumn{"Special category data", 10}, func(b *Breach) value { return b.SpecialCategoryData }},
	{tableColumn{"Data subjects", 10}, func(b *Breach) value { return count(b.DataSubjects) }},
	{tableColumn{"Description", 48}, func(b *Breach) value { return b.Description }},
	{tableColumn{"Art. 33 decision", 16}, func(b *Breach) value { return string(b.Notification.Decision) }},
	{tableColumn{"Art. 33 rationale", 48}, func(b *Breach) value { return b.Notification.Rationale }},
	{tableColumn{"Art. 33 decided by", 20}, func(b *Breach) value { return b.Notification.DecidedBy }},
	{tableColumn{"Art. 33 drafted by", 20}, func(b *Breach) value { return b.Notification.DraftedBy }},
	{tableColumn{"Art. 33 agreed by", 24}, func(b *Breach) value { return b.Notification.AgreedBy }},
	{tableColumn{"Art. 33 deadline", 17}, func(b *Breach) value { return b.Notification.Deadline }},
	{tableColumn{"Art. 33 filed at", 17}, func(b *Breach) value { return b.Notification.FiledAt }},
	{tableColumn{"Art. 33 filed by", 20}, func(b *Breach) value { return b.Notification.FiledBy }},
	{tableColumn{"Art. 33 reference", 18}, func(b *Breach) value { return b.Notification.Reference }},
	{tableColumn{"Art. 33 timeliness", 12}, func(b *Breach) value { return string(b.Notification.Timeliness) }},
	{tableColumn{"Art. 33 late by (hours)", 10}, func(b *Breach) value { return hours(b.Notification.Late, b.Notification.Late > 0) }},
	{tableColumn{"Art. 33 delay reason", 36}, func(b *Breach) value { return b.Notification.DelayReason }},
	{tableColumn{"Art. 33 case number", 18}, func(b *Breach) value { return b.Notification.CaseNumber }},
	{tableColumn{"Consequences (Art. 33 draft)", 36}, func(b *Breach) value { return b.Notification.Content["consequences"] }},
	{tableColumn{"Measures (Art. 33 draft)", 36}, func(b *Breach) value { return b.Notification.Content["measures"] }},
	{tableColumn{"Art. 34 decision", 16}, func(b *Breach) value { return string(b.Communication.Decision) }},
	{tableColumn{"Art. 34 exemption", 24}, func(b *Breach) value { return exemptionText(b.Communication.Exemption) }},
	{tableColumn{"Art. 34 rationale", 48}, func(b *Breach) value { return b.Communication.Rationale }},
	{tableColumn{"Art. 34 decided by", 20}, func(b *Breach) value { return b.Communication.DecidedBy }},
	{tableColumn{"Art. 34 told at", 17}, func(b *Breach) value { return b.Communication.FiledAt }},
	{tableColumn{"Resolution", 13}, func(b *Breach) value { return string(b.Resolution) }},
	{tableColumn{"Resolved at", 17}, func(b *Breach) value { return b.ResolvedAt }},
	{tableColumn{"Resolution summary", 40}, func(b *Breach) value { return b.ResolutionSummary }},
}

// count is n, or blank when it is not known.
func count(n *int32) value {
	if n == nil {
		return nil
	}
	return int(*n)
}

// exemptionText is the exemption with the provision it comes from.
func exemptionText(e securityv1alpha1.Exemption) string {
	switch e {
	case securityv1alpha1.ExemptionUnintelligible:
		return "Unintelligible (Art. 34(3)(a))"
	case securityv1alpha1.ExemptionRiskNoLongerLikely:
		return "Risk no longer likely (Art. 34(3)(b))"
	case securityv1alpha1.ExemptionDisproportionateEffort:
		return "Disproportionate effort (Art. 34(3)(c))"
	}
	return string(e)
}

// registerTable is the register as a table for the writers.
func registerTable(rows []Breach) table {
	heads := make([]tableColumn, len(registerColumns))
	for i, c := range registerColumns {
		heads[i] = c.tableColumn
	}
	return tableOf("Breach register", heads, rows, func(b *Breach, i int) value { return registerColumns[i].get(b) })
}

// WriteBreachRegisterCSV writes the register as CSV with a header row.
func WriteBreachRegisterCSV(w io.Writer, rows []Breach) error {
	return writeCSV(w, registerTable(rows))
}

// WriteBreachRegisterXLSX writes the register as an XLSX workbook of one
// sheet.
func WriteBreachRegisterXLSX(w io.Writer, rows []Breach) error {
	return writeWorkbook(w, []table{registerTable(rows)})
}

// WriteBreachRegisterMarkdown writes the register as a Markdown table.
func WriteBreachRegisterMarkdown(w io.Writer, rows []Breach) error {
	return writeMarkdownTable(w, registerTable(rows))
}
