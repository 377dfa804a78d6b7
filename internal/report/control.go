// Package report turns incidents into the documents people read: the
// control document that a manager reviews every week (one row per
// incident, as the spreadsheet the organisation kept), the summary for the
// review group, the register of personal data breaches (UK GDPR Art.
// 33(5)), and back again, the import of such a spreadsheet as Incidents.
//
// It is pure: incidents, the assets they name, their Filings, a time zone
// and the time now go in; rows, reports and incident specs come out.
// Nothing here reads a cluster or a clock.
package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/lifecycle"
)

// Assets are the assets incidents name, by namespace and name.
type Assets map[types.NamespacedName]securityv1alpha1.Asset

// AssetsOf indexes a list of assets by namespace and name.
func AssetsOf(list []securityv1alpha1.Asset) Assets {
	assets := make(Assets, len(list))
	for _, a := range list {
		assets[types.NamespacedName{Namespace: a.Namespace, Name: a.Name}] = a
	}
	return assets
}

// SLAOutcome is how an incident stands against its service-level targets.
type SLAOutcome string

const (
	// SLANone: no policy set a target for the incident.
	SLANone SLAOutcome = ""
	// SLAMet: every target was met.
	SLAMet SLAOutcome = "Met"
	// SLAMissed: a target passed unmet.
	SLAMissed SLAOutcome = "Missed"
	// SLAPending: no target is missed yet, and one is still ahead.
	SLAPending SLAOutcome = "Pending"
)

// AuthorityOutcome is where the report of a personal data breach to the
// supervisory authority stands.
type AuthorityOutcome string

const (
	// AuthorityNone: no personal data is involved, or the stage has no
	// deadline yet.
	AuthorityNone AuthorityOutcome = ""
	// AuthorityOnTime: reported by the deadline.
	AuthorityOnTime AuthorityOutcome = "On time"
	// AuthorityLate: reported after the deadline.
	AuthorityLate AuthorityOutcome = "Late"
	// AuthorityDue: not reported yet, and the deadline is still ahead.
	AuthorityDue AuthorityOutcome = "Due"
	// AuthorityOverdue: not reported, and the deadline has passed.
	AuthorityOverdue AuthorityOutcome = "Overdue"
	// AuthorityNotRequired: personal data was named, but telling the
	// authority was decided not required, with its reasons and agreed, or
	// the incident was resolved undecided as a false positive or a
	// duplicate, so there is no breach.
	AuthorityNotRequired AuthorityOutcome = "Not required"
)

// Row is one incident as the control document shows it. Times are in the
// document's time zone; a zero time is a blank cell.
type Row struct {
	Namespace, Name string

	// ReportedAt is when the incident was reported: the Incident's
	// creation time, until the API has a field for an earlier report.
	ReportedAt time.Time
	// AwareAt is when the organisation became aware of the event.
	AwareAt time.Time

	Type        securityv1alpha1.IncidentType
	Title       string
	Description string
	Category    securityv1alpha1.IncidentCategory
	Severity    securityv1alpha1.Severity

	Reporter      string
	ReporterEmail string
	// ReportedBy is the account the API server authenticated when the
	// incident was created.
	ReportedBy string
	Department string

	// Assets are the names of the assets the incident affects.
	Assets []string
	// Suppliers are the suppliers of those assets, each once, and
	// SupplierContacts how each is contacted, in the same order.
	Suppliers        []string
	SupplierContacts []string
	// SupplierReference is the supplier's reference for the call. The API
	// has no field for it yet, so it is always blank.
	SupplierReference string

	BusinessCritical bool
	SecurityBreach   bool
	PersonalData     bool
	Major            bool

	// EscalationLevel is the highest level reached, and EscalatedTo who was
	// told at that level.
	EscalationLevel int32
	EscalatedTo     []string

	AcknowledgedAt time.Time
	AcknowledgedBy string
	// AcknowledgedByAccount is the account the API server authenticated.
	AcknowledgedByAccount string

	ResolvedAt          time.Time
	ResolvedBy          string
	ResolvedByAccount   string
	Resolution          securityv1alpha1.ResolutionState
	ResolutionSummary   string
	SLA                 SLAOutcome
	AuthorityDeadline   time.Time
	AuthorityNotifiedAt time.Time
	AuthorityReference  string
	Authority           AuthorityOutcome
	AuthorityDelay      string

	Phase securityv1alpha1.IncidentPhase
}

// Open is true until the incident is resolved.
func (r *Row) Open() bool { return r.Resolution == "" && r.ResolvedAt.IsZero() }

// TimeToAcknowledge is how long after the report someone took the
// incident on. An incident resolved without an acknowledgement counts as
// acknowledged when resolved, as its SLA does.
func (r *Row) TimeToAcknowledge() (time.Duration, bool) {
	at := r.AcknowledgedAt
	if at.IsZero() {
		at = r.ResolvedAt
	}
	return since(r.ReportedAt, at)
}

// TimeToResolve is how long after the report the incident was resolved.
func (r *Row) TimeToResolve() (time.Duration, bool) { return since(r.ReportedAt, r.ResolvedAt) }

func since(from, to time.Time) (time.Duration, bool) {
	if from.IsZero() || to.IsZero() {
		return 0, false
	}
	return to.Sub(from), true
}

// ControlDocument is one row per incident, sorted by report time and then
// namespace and name, with times in loc. filings are the incidents'
// Filings, where the notification to the authority is recorded as the
// breach register reads it; now decides whether a deadline that nothing
// has met yet has passed.
func ControlDocument(incidents []securityv1alpha1.Incident, assets Assets, filings Filings, loc *time.Location, now time.Time) []Row {
	rows := make([]Row, 0, len(incidents))
	for i := range incidents {
		inc := &incidents[i]
		rows = append(rows, rowOf(inc, assets, filings[types.NamespacedName{Namespace: inc.Namespace, Name: inc.Name}], loc, now))
	}
	slices.SortFunc(rows, func(a, b Row) int {
		return cmp.Or(a.ReportedAt.Compare(b.ReportedAt), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return rows
}

func rowOf(inc *securityv1alpha1.Incident, assets Assets, filings []securityv1alpha1.Filing, loc *time.Location, now time.Time) Row {
	spec, st := &inc.Spec, &inc.Status
	in := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return t.In(loc)
	}
	row := Row{
		Namespace:        inc.Namespace,
		Name:             inc.Name,
		ReportedAt:       in(inc.ReportedAt()),
		AwareAt:          in(inc.AwareAt()),
		Type:             cmp.Or(spec.Type, securityv1alpha1.TypeIncident),
		Title:            spec.Title,
		Description:      spec.Description,
		Category:         spec.Category,
		Severity:         spec.Severity,
		Reporter:         spec.Reporter.Name,
		ReporterEmail:    spec.Reporter.Email,
		ReportedBy:       account(spec.ReportedBy),
		Department:       spec.Reporter.Department,
		Assets:           slices.Clone(spec.Assets),
		BusinessCritical: spec.Impact.BusinessCritical,
		SecurityBreach:   spec.Impact.SecurityBreach,
		PersonalData:     spec.Impact.PersonalData,
		Major:            meta.IsStatusConditionTrue(st.Conditions, securityv1alpha1.ConditionMajor),
		EscalationLevel:  st.EscalationLevel,
		EscalatedTo:      escalatedTo(st),
		AcknowledgedAt:   in(timeOf(st.AcknowledgedAt)),
		ResolvedAt:       in(timeOf(st.ResolvedAt)),
		SLA:              slaOutcome(st, now),
		Phase:            cmp.Or(st.Phase, securityv1alpha1.PhasePending),
	}
	row.Suppliers, row.SupplierContacts = suppliers(inc, assets)
	if a := spec.Acknowledgement; a != nil {
		row.AcknowledgedBy, row.AcknowledgedByAccount = a.By, account(a.AttestedBy)
	}
	if r := spec.Resolution; r != nil {
		row.ResolvedBy, row.ResolvedByAccount = r.By, account(r.AttestedBy)
		row.Resolution, row.ResolutionSummary = r.State, r.Summary
	}
	if spec.Impact.PersonalData {
		// Only personal data breaches are told to the authority, as the
		// register records it.
		n := stageRecord(inc, filings, NotificationCitation, loc, now)
		row.Authority, row.AuthorityDeadline = n.Timeliness, n.Deadline
		row.AuthorityNotifiedAt, row.AuthorityReference, row.AuthorityDelay = n.FiledAt, n.Reference, n.DelayReason
	}
	return row
}

func timeOf(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

// account is the attested user name, or blank when none was recorded.
func account(a *securityv1alpha1.Attestation) string {
	if a == nil {
		return ""
	}
	return a.Username
}

// escalatedTo is who was told at the highest level any policy reached:
// each receiver by name, each person found by role as "Role <address>".
// The reporter's own notices of an escalation are not the escalation.
func escalatedTo(st *securityv1alpha1.IncidentStatus) []string {
	var who []string
	for _, rec := range st.Notifications {
		if rec.Level != st.EscalationLevel || (rec.Notice != "" && rec.Notice != lifecycle.NoticeEscalated) {
			continue
		}
		if rec.Notice == lifecycle.NoticeEscalated && rec.Role == securityv1alpha1.RoleReporter {
			continue
		}
		name := rec.Receiver
		if rec.Role != "" {
			name = fmt.Sprintf("%s <%s>", rec.Role, rec.Recipient)
		}
		if !slices.Contains(who, name) {
			who = append(who, name)
		}
	}
	return who
}

// suppliers are the suppliers of the incident's assets, each once, and
// how each is reached: its help desk directly, or only through a named
// contact in the organisation (STW 3.1).
func suppliers(inc *securityv1alpha1.Incident, assets Assets) (names, contacts []string) {
	for _, name := range inc.Spec.Assets {
		asset, ok := assets[types.NamespacedName{Namespace: inc.Namespace, Name: name}]
		if !ok || asset.Spec.Supplier == nil || slices.Contains(names, asset.Spec.Supplier.Name) {
			continue
		}
		s := asset.Spec.Supplier
		names = append(names, s.Name)
		switch {
		case s.ContactVia == securityv1alpha1.ContactNamedContact && s.NamedContact != nil:
			contacts = append(contacts, "Named contact: "+contactText(*s.NamedContact))
		case s.HelpDesk != nil:
			contacts = append(contacts, "Help desk: "+contactText(*s.HelpDesk))
		default:
			contacts = append(contacts, "Help desk")
		}
	}
	return names, contacts
}

// contactText is "Name, email, phone" with the parts that are known.
func contactText(c securityv1alpha1.Contact) string {
	parts := []string{c.Name}
	for _, p := range []string{c.Email, c.Phone} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

// slaOutcome judges each target from its deadline and the time it was met,
// as the operator does, and keeps a breach the operator has recorded: a
// breach once seen stays.
func slaOutcome(st *securityv1alpha1.IncidentStatus, now time.Time) SLAOutcome {
	s := st.SLA
	if s == nil || (s.AcknowledgeBy == nil && s.ResolveBy == nil) {
		return SLANone
	}
	acknowledged := timeOf(st.AcknowledgedAt)
	if acknowledged.IsZero() {
		acknowledged = timeOf(st.ResolvedAt)
	}
	outcome := SLAMet
	for _, target := range []struct{ by, done time.Time }{
		{timeOf(s.AcknowledgeBy), acknowledged},
		{timeOf(s.ResolveBy), timeOf(st.ResolvedAt)},
	} {
		switch {
		case target.by.IsZero():
		case !target.done.IsZero() && target.done.After(target.by), target.done.IsZero() && !now.Before(target.by):
			return SLAMissed
		case target.done.IsZero():
			outcome = SLAPending
		}
	}
	if meta.IsStatusConditionTrue(st.Conditions, securityv1alpha1.ConditionSLABreached) {
		return SLAMissed
	}
	return outcome
}

// timeliness is how a filing made at filed (zero while it is not made)
// stands against its deadline at now: late is after the deadline, as the
// operator judges it.
func timeliness(filed, deadline, now time.Time) AuthorityOutcome {
	switch {
	case !filed.IsZero() && filed.After(deadline):
		return AuthorityLate
	case !filed.IsZero():
		return AuthorityOnTime
	case now.Before(deadline):
		return AuthorityDue
	}
	return AuthorityOverdue
}
