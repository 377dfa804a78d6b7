// Package triage orders incidents the way a service desk works through
// them: for each incident the deadline that matters next, whether it has
// been missed, and the list sorted most urgent first. It is pure: the
// incidents as stored and the time now go in.
package triage

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Kind is which deadline an incident has next.
type Kind string

const (
	// AcknowledgeBy is the SLA's deadline for someone to take the incident on.
	AcknowledgeBy Kind = "acknowledge-by"
	// ResolveBy is the SLA's deadline for closing the incident.
	ResolveBy Kind = "resolve-by"
	// AuthorityBy is the deadline for telling the supervisory authority of
	// a personal data breach.
	AuthorityBy Kind = "authority-by"
	// NextEscalation is when a policy tells its next level, unless someone
	// acknowledges first.
	NextEscalation Kind = "next-escalation"
	// ObligationBy is when a stage of a regulatory regime is due, as the
	// operator keeps it in status.obligations.
	ObligationBy Kind = "obligation-by"
)

// Deadline is one time an incident must meet.
type Deadline struct {
	Kind Kind
	At   time.Time
	// Breached is true when the deadline passed unmet, by the clock now or
	// by the operator's conditions (a breach once recorded stays). An
	// escalation that is due is never a breach: the operator reaches it.
	Breached bool
	// Policy names the policy whose escalation is next.
	Policy string
	// Obligation names the regulatory obligation due, as regime/stage.
	Obligation string
}

// String says the deadline for a person: "acknowledge-by", or
// "next-escalation (it-service-desk)".
func (d Deadline) String() string {
	if d.Obligation != "" {
		return fmt.Sprintf("%s (%s)", d.Kind, d.Obligation)
	}
	if d.Policy != "" {
		return fmt.Sprintf("%s (%s)", d.Kind, d.Policy)
	}
	return string(d.Kind)
}

// Acknowledged is true once someone has taken the incident on.
func Acknowledged(inc *securityv1alpha1.Incident) bool {
	return inc.Spec.Acknowledgement != nil || inc.Status.AcknowledgedAt != nil
}

// Resolved is true once the incident is closed.
func Resolved(inc *securityv1alpha1.Incident) bool {
	return inc.Spec.Resolution != nil || inc.Status.ResolvedAt != nil
}

// AwaitingAuthority is true while a personal data breach has not been
// reported to the supervisory authority and still must be: resolving it
// stops that clock only as a false positive or a duplicate, as the
// operator rules.
func AwaitingAuthority(inc *securityv1alpha1.Incident) bool {
	if c := meta.FindStatusCondition(inc.Status.Conditions, securityv1alpha1.ConditionAuthorityNotificationRequired); c != nil {
		return c.Status == metav1.ConditionTrue && inc.Spec.AuthorityNotification == nil
	}
	spec := &inc.Spec
	return spec.Impact.PersonalData && spec.AuthorityNotification == nil &&
		(spec.Resolution == nil || spec.Resolution.State == securityv1alpha1.ResolutionResolved)
}

// Deadlines are every deadline the incident still has to meet, or has
// missed, in time order.
func Deadlines(inc *securityv1alpha1.Incident, now time.Time) []Deadline {
	st := &inc.Status
	acknowledged, resolved := Acknowledged(inc), Resolved(inc)
	breach := meta.FindStatusCondition(st.Conditions, securityv1alpha1.ConditionSLABreached)
	recorded := func(reason string) bool {
		return breach != nil && breach.Status == metav1.ConditionTrue && breach.Reason == reason
	}
	var out []Deadline
	add := func(kind Kind, at *metav1.Time, missed bool) {
		if at != nil {
			out = append(out, Deadline{Kind: kind, At: at.Time, Breached: missed || !at.After(now)})
		}
	}
	if sla := st.SLA; sla != nil {
		if !acknowledged && !resolved {
			add(AcknowledgeBy, sla.AcknowledgeBy, recorded(securityv1alpha1.ReasonAcknowledgeTargetMissed))
		}
		if !resolved {
			add(ResolveBy, sla.ResolveBy, recorded(securityv1alpha1.ReasonResolveTargetMissed))
		}
	}
	// The operator's obligations speak for the authority's clock when one
	// of them is the filing with the supervisory authority.
	covered := false
	for _, o := range st.Obligations {
		covered = covered || o.Recipient == securityv1alpha1.RecipientSupervisoryAuthority
		if o.State.Open() && o.Deadline != nil {
			out = append(out, Deadline{Kind: ObligationBy, At: o.Deadline.Time, Breached: o.Missed || !o.Deadline.After(now), Obligation: o.Regime + "/" + o.Stage})
		}
	}
	if AwaitingAuthority(inc) && !covered {
		at := metav1.NewTime(inc.AuthorityDeadline())
		add(AuthorityBy, &at, meta.IsStatusConditionTrue(st.Conditions, securityv1alpha1.ConditionAuthorityDeadlineMissed))
	}
	if !acknowledged && !resolved {
		for _, p := range st.Policies {
			if p.NextEscalationAt != nil {
				out = append(out, Deadline{Kind: NextEscalation, At: p.NextEscalationAt.Time, Policy: p.Name})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Deadline) int { return a.At.Compare(b.At) })
	return out
}

// Next is the deadline that matters next: the one missed longest ago, or
// when none is missed, the earliest ahead. ok is false when the incident
// has no deadline left.
func Next(inc *securityv1alpha1.Incident, now time.Time) (d Deadline, ok bool) {
	all := Deadlines(inc, now)
	if i := slices.IndexFunc(all, func(d Deadline) bool { return d.Breached }); i >= 0 {
		return all[i], true
	}
	if len(all) == 0 {
		return Deadline{}, false
	}
	return all[0], true
}

// Breached is true when a service-level target or the authority deadline
// was missed, now or earlier.
func Breached(inc *securityv1alpha1.Incident, now time.Time) bool {
	conds := inc.Status.Conditions
	if meta.IsStatusConditionTrue(conds, securityv1alpha1.ConditionSLABreached) ||
		meta.IsStatusConditionTrue(conds, securityv1alpha1.ConditionAuthorityDeadlineMissed) {
		return true
	}
	return slices.ContainsFunc(Deadlines(inc, now), func(d Deadline) bool { return d.Breached })
}

// Filter keeps the incidents a person asked for; every option set must
// hold.
type Filter struct {
	// Open: not resolved.
	Open bool
	// AtRisk: a service-level deadline is near (SLAAtRisk).
	AtRisk bool
	// Breached: a service-level target or the authority deadline missed.
	Breached bool
	// Major: a major incident.
	Major bool
	// AwaitingAuthority: a personal data breach not yet reported.
	AwaitingAuthority bool
}

// Keep says whether the incident passes the filter.
func (f Filter) Keep(inc *securityv1alpha1.Incident, now time.Time) bool {
	conds := inc.Status.Conditions
	switch {
	case f.Open && Resolved(inc),
		f.AtRisk && !meta.IsStatusConditionTrue(conds, securityv1alpha1.ConditionSLAAtRisk),
		f.Breached && !Breached(inc, now),
		f.Major && !meta.IsStatusConditionTrue(conds, securityv1alpha1.ConditionMajor),
		f.AwaitingAuthority && !AwaitingAuthority(inc):
		return false
	}
	return true
}

// Item is an incident with the deadline that matters next.
type Item struct {
	Incident *securityv1alpha1.Incident
	Next     Deadline
	// HasNext is false when the incident has no deadline left.
	HasNext bool
}

// Sort returns the incidents most urgent first: missed deadlines (the
// longest missed first), then deadlines ahead (the soonest first), then
// incidents with none; ties go to the more severe, then by namespace and
// name.
func Sort(incidents []securityv1alpha1.Incident, now time.Time) []Item {
	items := make([]Item, len(incidents))
	for i := range incidents {
		items[i].Incident = &incidents[i]
		items[i].Next, items[i].HasNext = Next(&incidents[i], now)
	}
	slices.SortFunc(items, func(a, b Item) int {
		return cmp.Or(
			cmp.Compare(urgency(a), urgency(b)),
			compareTimes(a, b),
			cmp.Compare(severityRank(b.Incident.Spec.Severity), severityRank(a.Incident.Spec.Severity)),
			cmp.Compare(a.Incident.Namespace, b.Incident.Namespace),
			cmp.Compare(a.Incident.Name, b.Incident.Name),
		)
	})
	return items
}

// urgency groups the items: 0 missed, 1 ahead, 2 none.
func urgency(it Item) int {
	switch {
	case !it.HasNext:
		return 2
	case it.Next.Breached:
		return 0
	}
	return 1
}

func compareTimes(a, b Item) int {
	if !a.HasNext || !b.HasNext {
		return 0
	}
	return a.Next.At.Compare(b.Next.At)
}

func severityRank(s securityv1alpha1.Severity) int {
	switch s {
	case securityv1alpha1.SeverityCritical:
		return 3
	case securityv1alpha1.SeverityHigh:
		return 2
	case securityv1alpha1.SeverityMedium:
		return 1
	}
	return 0
}

// Until says how far away t is, in the two largest units that matter:
// "in 3m20s", "2h5m ago", "in 1d4h", "now".
func Until(t, now time.Time) string {
	d := t.Sub(now).Round(time.Second)
	switch {
	case d == 0:
		return "now"
	case d < 0:
		return Span(-d) + " ago"
	}
	return "in " + Span(d)
}

// Span is a positive duration in its two largest units: "1d4h", "3h5m",
// "4m10s", "35s".
func Span(d time.Duration) string {
	d = d.Round(time.Second)
	days, hours := int64(d/(24*time.Hour)), int64(d%(24*time.Hour)/time.Hour)
	minutes, seconds := int64(d%time.Hour/time.Minute), int64(d%time.Minute/time.Second)
	switch {
	case days > 0:
		return join(days, "d", hours, "h")
	case hours > 0:
		return join(hours, "h", minutes, "m")
	case minutes > 0:
		return join(minutes, "m", seconds, "s")
	}
	return fmt.Sprintf("%ds", seconds)
}

func join(a int64, aUnit string, b int64, bUnit string) string {
	if b == 0 {
		return fmt.Sprintf("%d%s", a, aUnit)
	}
	return fmt.Sprintf("%d%s%d%s", a, aUnit, b, bUnit)
}
