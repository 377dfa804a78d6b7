// Package lifecycle moves a routed incident through time: it climbs each
// policy's escalation chain until someone acknowledges, derives the phase,
// keeps the SLA and regulatory clocks, and says which notifications are owed.
//
// Everything is derived from timestamps in the incident's spec and status
// and the time passed in, never from timers, so the same input gives the
// same answer after an operator restart: every escalation and breach fires
// once, and none fires twice.
package lifecycle

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/delivery"
)

// Notices, as recorded in NotificationRecord.Notice.
const (
	NoticeMajor        = "Major"
	NoticeEscalated    = "Escalated"
	NoticeAcknowledged = delivery.NoticeAcknowledged
	NoticeResolved     = delivery.NoticeResolved
	NoticeSLAAtRisk    = "SLAAtRisk"
	// NoticeAwaitingAgreement: a draft, or a decision that a stage is not
	// required, awaits agreement.
	NoticeAwaitingAgreement = "AwaitingAgreement"
	// NoticeObligationDue: a stage not yet agreed is due soon, or overdue.
	NoticeObligationDue = "ObligationDue"
)

// ChannelEmail is the channel of everyone reached by role.
const ChannelEmail = delivery.ChannelEmail

// Input is what Advance looks at.
type Input struct {
	Now      time.Time
	Incident *securityv1alpha1.Incident
	// Policies are the current versions of the policies the incident is
	// routed to; a policy that is gone is missing.
	Policies map[string]*securityv1alpha1.EscalationPolicy
	// Assets are the assets the incident names that exist.
	Assets map[string]*securityv1alpha1.Asset
	// Department is the reporter's Department, if one is declared: its
	// managers, deputies and absences.
	Department *securityv1alpha1.Department
	// Authority is what the incident's Filing for the supervisory authority
	// records, when a regulatory regime applies; nil when none does.
	Authority *AuthorityFiling
	// ChannelOf names the channel of a policy's receiver.
	ChannelOf func(policy *securityv1alpha1.EscalationPolicy, receiver string) string
}

// Event is something people should hear about through a Kubernetes event.
type Event struct {
	Warning bool
	Reason  string
	// Action is what the event is about, distinct for distinct subjects:
	// events/v1 folds events that share reason and action into one series.
	Action string
	Note   string
}

// Outcome is what Advance decided.
type Outcome struct {
	Events []Event
	// Wake is the earliest future time at which something is due; zero
	// when nothing is.
	Wake time.Time
}

type advancer struct {
	Input
	inc *securityv1alpha1.Incident
	out Outcome
	gen int64
}

// Advance brings a routed incident's status up to Now: it stamps
// acknowledgement and resolution, reaches due escalation levels, derives the
// phase, and sets the SLA, authority and Major conditions. Deliveries owed
// are appended to status.notifications as Pending; an acknowledgement or
// resolution notice whose recipient nothing reached is settled unsent.
func Advance(in Input) Outcome {
	a := &advancer{Input: in, inc: in.Incident, gen: in.Incident.Generation}
	st := &a.inc.Status
	if st.RoutedAt == nil {
		return a.out
	}
	now := metav1.NewTime(in.Now.Truncate(time.Second))

	a.checkAssets()
	a.major()
	for i := range st.Policies {
		a.escalate(&st.Policies[i])
	}

	if a.inc.Spec.Acknowledgement != nil && st.AcknowledgedAt == nil {
		st.AcknowledgedAt = &now
		a.event(false, "Acknowledged", "Acknowledged by %s", a.inc.Spec.Acknowledgement.By)
	}
	if a.inc.Spec.Resolution != nil && st.ResolvedAt == nil {
		st.ResolvedAt = &now
		a.event(false, "Resolved", "%s by %s", a.inc.Spec.Resolution.State, a.inc.Spec.Resolution.By)
	}
	a.phaseNotices()
	if st.AcknowledgedAt != nil || st.ResolvedAt != nil {
		for i := range st.Policies {
			st.Policies[i].NextEscalationAt = nil
		}
	}

	a.phase()
	a.sla()
	a.authority()
	a.obligationNotices()
	return a.out
}

func (a *advancer) event(warning bool, reason, format string, args ...any) {
	a.eventFor(warning, reason, reason, format, args...)
}

func (a *advancer) eventFor(warning bool, reason, action, format string, args ...any) {
	a.out.Events = append(a.out.Events, Event{Warning: warning, Reason: reason, Action: action, Note: fmt.Sprintf(format, args...)})
}

// wake keeps the earliest future time.
func (a *advancer) wake(t time.Time) {
	if !t.After(a.Now) {
		return
	}
	if a.out.Wake.IsZero() || t.Before(a.out.Wake) {
		a.out.Wake = t
	}
}

func (a *advancer) condition(condType string, status metav1.ConditionStatus, reason, message string) bool {
	return meta.SetStatusCondition(&a.inc.Status.Conditions, metav1.Condition{
		Type: condType, Status: status, Reason: reason, Message: message, ObservedGeneration: a.gen,
		LastTransitionTime: metav1.NewTime(a.Now.Truncate(time.Second)),
	})
}

func isTrue(conditions []metav1.Condition, t string) bool {
	return meta.IsStatusConditionTrue(conditions, t)
}
