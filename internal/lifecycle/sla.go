package lifecycle

// SLA: the service-level deadlines, at risk and breached.

import (
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/calendar"
	"github.com/incidentops/incident-operator/internal/delivery"
)

// sla computes the deadlines of the first policy with a target for the
// incident's severity, and sets SLAAtRisk and SLABreached.
func (a *advancer) sla() {
	st := &a.inc.Status
	derived, err := a.slaDeadlines()
	if st.SLA == nil {
		if err != nil {
			a.event(true, "SLANotComputed", "%v", err)
		}
		if st.SLA = derived; st.SLA == nil {
			return
		}
	}
	s := toTheNanosecond(st.SLA, derived)
	type target struct {
		name           string
		by, atRisk     *metav1.Time
		doneAt         *metav1.Time
		atRiskReason   string
		breachedReason string
	}
	targets := []target{
		{"acknowledge", s.AcknowledgeBy, s.AcknowledgeAtRiskAt, firstOf(st.AcknowledgedAt, st.ResolvedAt), securityv1alpha1.ReasonAcknowledgeDueSoon, securityv1alpha1.ReasonAcknowledgeTargetMissed},
		{"resolve", s.ResolveBy, s.ResolveAtRiskAt, st.ResolvedAt, securityv1alpha1.ReasonResolveDueSoon, securityv1alpha1.ReasonResolveTargetMissed},
	}
	var breached, atRisk []target
	for _, t := range targets {
		if t.by == nil {
			continue
		}
		switch {
		case t.doneAt != nil && t.doneAt.After(t.by.Time), t.doneAt == nil && !a.Now.Before(t.by.Time):
			breached = append(breached, t)
		case t.doneAt != nil:
		case t.atRisk != nil && !a.Now.Before(t.atRisk.Time):
			atRisk = append(atRisk, t)
			a.wake(t.by.Time)
		default:
			if t.atRisk != nil {
				a.wake(t.atRisk.Time)
			}
			a.wake(t.by.Time)
		}
	}

	if len(breached) > 0 {
		t := breached[0]
		message := fmt.Sprintf("the %s target of %s was missed: due %s", t.name, s.Policy, t.by.UTC().Format(time.RFC3339))
		if a.condition(securityv1alpha1.ConditionSLABreached, metav1.ConditionTrue, t.breachedReason, message) {
			a.event(true, "SLABreached", "SLA breached: %s", message)
		}
	} else if !meta.IsStatusConditionTrue(st.Conditions, securityv1alpha1.ConditionSLABreached) {
		// A breach once seen stays: a clock set back must not undo it.
		a.condition(securityv1alpha1.ConditionSLABreached, metav1.ConditionFalse, securityv1alpha1.ReasonWithinTarget, "every SLA target met or still ahead")
	}

	switch {
	case len(atRisk) > 0:
		t := atRisk[0]
		message := fmt.Sprintf("the %s target of %s is due %s", t.name, s.Policy, t.by.UTC().Format(time.RFC3339))
		if a.condition(securityv1alpha1.ConditionSLAAtRisk, metav1.ConditionTrue, t.atRiskReason, message) {
			a.event(true, "SLAAtRisk", "SLA at risk: %s", message)
			a.reporterAtRisk(t.name)
		}
	case st.ResolvedAt != nil:
		a.condition(securityv1alpha1.ConditionSLAAtRisk, metav1.ConditionFalse, securityv1alpha1.ReasonStoppedOnResolution, "resolved; the SLA clocks have stopped")
	default:
		a.condition(securityv1alpha1.ConditionSLAAtRisk, metav1.ConditionFalse, securityv1alpha1.ReasonWithinTarget, "no SLA target is near")
	}
}

// reporterAtRisk tells the reporter that a target may not be met, as the
// council's policy asks, when an address is known for them.
func (a *advancer) reporterAtRisk(target string) {
	email := a.inc.Spec.Reporter.Email
	if email == "" {
		return
	}
	policy := a.inc.Status.SLA.Policy
	a.add(securityv1alpha1.NotificationRecord{
		DeliveryAttempt: securityv1alpha1.DeliveryAttempt{
			Key:      delivery.Key(string(a.inc.UID), policy, 0, 0, noticeScope(NoticeSLAAtRisk, target+":"+email)),
			Receiver: string(securityv1alpha1.RoleReporter),
			Channel:  ChannelEmail,
		},
		Policy:    policy,
		Role:      securityv1alpha1.RoleReporter,
		Recipient: email,
		Notice:    NoticeSLAAtRisk,
	})
}

func firstOf(ts ...*metav1.Time) *metav1.Time {
	var first *metav1.Time
	for _, t := range ts {
		if t != nil && (first == nil || t.Before(first)) {
			first = t
		}
	}
	return first
}

// slaStart is when the service desk's clock starts: when the report was
// made, for one that says (a report queued out of hours, or imported),
// and otherwise when the incident was routed and the desk first told.
func slaStart(inc *securityv1alpha1.Incident) time.Time {
	if inc.Spec.ReportedAt != nil {
		return inc.ReportedAt()
	}
	return inc.Status.RoutedAt.Time
}

// slaDeadlines finds the applicable target and computes its deadlines from
// slaStart; nil when no policy has a target for the incident's severity.
func (a *advancer) slaDeadlines() (*securityv1alpha1.SLAStatus, error) {
	for _, ref := range a.inc.Status.Policies {
		p := a.Policies[ref.Name]
		if p == nil || p.Spec.SLA == nil {
			continue
		}
		for _, target := range p.Spec.SLA.Targets {
			if !slices.Contains(target.Severities, a.inc.Spec.Severity) {
				continue
			}
			s, err := Deadlines(slaStart(a.inc), p.Name, p.Spec.SLA.Calendar, target)
			if err != nil {
				return nil, fmt.Errorf("%s %s: spec.sla.calendar: %w", ref.KindOrDefault(), p.Name, err)
			}
			return s, nil
		}
	}
	return nil, nil
}

// toTheNanosecond is the recorded SLA with each deadline to the nanosecond.
// Status records the deadlines as metav1.Time, which keeps whole seconds,
// while the routing time they count from is kept to the nanosecond; so
// each is worked out again, and what is worked out is used when it falls
// in the recorded second. A deadline recorded otherwise (its policy has
// changed since) stands as recorded.
func toTheNanosecond(recorded, derived *securityv1alpha1.SLAStatus) *securityv1alpha1.SLAStatus {
	if derived == nil || derived.Policy != recorded.Policy || derived.Hours != recorded.Hours {
		return recorded
	}
	exact := func(r, d *metav1.Time) *metav1.Time {
		if r == nil || d == nil || !d.Truncate(time.Second).Equal(r.Truncate(time.Second)) {
			return r
		}
		return d
	}
	return &securityv1alpha1.SLAStatus{
		Policy: recorded.Policy, Hours: recorded.Hours,
		AcknowledgeBy: exact(recorded.AcknowledgeBy, derived.AcknowledgeBy), ResolveBy: exact(recorded.ResolveBy, derived.ResolveBy),
		AcknowledgeAtRiskAt: exact(recorded.AcknowledgeAtRiskAt, derived.AcknowledgeAtRiskAt), ResolveAtRiskAt: exact(recorded.ResolveAtRiskAt, derived.ResolveAtRiskAt),
	}
}

// Deadlines computes a target's deadlines for an incident reported at start.
func Deadlines(start time.Time, policy string, cal *securityv1alpha1.Calendar, target securityv1alpha1.SLATarget) (*securityv1alpha1.SLAStatus, error) {
	hours := target.Hours
	if hours == "" {
		hours = securityv1alpha1.CalendarHours
	}
	add := func(t time.Time, d time.Duration) (time.Time, error) { return t.Add(d), nil }
	sub := func(t time.Time, d time.Duration) (time.Time, error) { return t.Add(-d), nil }
	if hours == securityv1alpha1.BusinessHours {
		var spec calendar.Spec
		if cal != nil {
			spec = calendar.Spec{TimeZone: cal.TimeZone, Days: cal.Days, Opens: cal.Opens, Closes: cal.Closes, Holidays: cal.Holidays}
		}
		c, err := calendar.New(spec)
		if err != nil {
			return nil, err
		}
		add, sub = c.Add, c.Subtract
	}
	s := &securityv1alpha1.SLAStatus{Policy: policy, Hours: hours}
	for _, d := range []struct {
		within   *securityv1alpha1.Duration
		by, risk **metav1.Time
	}{
		{target.AcknowledgeWithin, &s.AcknowledgeBy, &s.AcknowledgeAtRiskAt},
		{target.ResolveWithin, &s.ResolveBy, &s.ResolveAtRiskAt},
	} {
		if d.within == nil {
			continue
		}
		by, err := add(start, d.within.Duration)
		if err != nil {
			return nil, err
		}
		*d.by = &metav1.Time{Time: by.UTC()}
		if w := durationOf(target.WarnBefore); w > 0 {
			risk, err := sub(by, w)
			if err != nil {
				return nil, err
			}
			risk = later(risk, start)
			*d.risk = &metav1.Time{Time: risk.UTC()}
		}
	}
	return s, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
