package lifecycle

// Escalation: each policy's chain of levels, climbed until someone
// acknowledges, and the notifications each level owes.

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/delivery"
)

func durationOf(d *securityv1alpha1.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.Duration
}

// escalate reaches level 0 of a newly routed policy, and every later level
// whose time has come while nobody acknowledged.
func (a *advancer) escalate(ref *securityv1alpha1.PolicyReference) {
	policy := a.Policies[ref.Name]
	if policy == nil {
		ref.NextEscalationAt = nil
		return
	}
	chain := policy.Spec.Escalation
	start := a.chainStart(ref)
	if ref.LevelReachedAt == nil {
		ref.Level, ref.Repeat, ref.LevelReachedAt = 0, 0, &metav1.Time{Time: start}
		if !a.importedResolved() {
			a.reach(policy, ref, "")
		}
		ref.NextEscalationAt = nextEscalation(chain, ref)
	}
	stopped := a.inc.Spec.Acknowledgement != nil || a.inc.Spec.Resolution != nil
	for !stopped && ref.NextEscalationAt != nil {
		// The level is reached at its scheduled time, not when the operator
		// got round to it, so lateness never accumulates down the chain.
		at := inSecondOf(ref.NextEscalationAt, start)
		if at.After(a.Now) {
			a.wake(at)
			return
		}
		if int(ref.Level)+1 < len(chain.Levels) {
			ref.Level++
		} else {
			ref.Level, ref.Repeat = 0, ref.Repeat+1
		}
		ref.LevelReachedAt = &metav1.Time{Time: at}
		a.reach(policy, ref, NoticeEscalated)
		a.eventFor(true, "Escalated", fmt.Sprintf("Escalate %s to %d.%d", ref.Name, ref.Level, ref.Repeat), "Escalated to level %d of %s (repeat %d): not acknowledged since %s",
			ref.Level, ref.Name, ref.Repeat, a.inc.Status.RoutedAt.UTC().Format(time.RFC3339))
		ref.NextEscalationAt = nextEscalation(chain, ref)
	}
}

// chainStart is when ref's escalation chain started, to the nanosecond:
// when the incident was routed, or when the policy joined it later.
func (a *advancer) chainStart(ref *securityv1alpha1.PolicyReference) time.Time {
	if ref.JoinedAt != nil {
		return ref.JoinedAt.Time
	}
	return a.inc.Status.RoutedAt.Time
}

// inSecondOf is a time of the chain that started at start, to the
// nanosecond. Status records the chain's times as metav1.Time, which
// keeps whole seconds, but the chain's waits are whole seconds too (the
// API refuses fractions), so each of its times lies at the fraction of a
// second at which the chain started: incidents routed within the same
// second escalate apart, as they were routed.
func inSecondOf(recorded *metav1.Time, start time.Time) time.Time {
	return recorded.Time.Truncate(time.Second).Add(start.Sub(start.Truncate(time.Second)))
}

// importedResolved is true for an incident imported already resolved: a
// record of the past, which pages nobody. Its policies are still reached,
// so that status says who it was routed to, but nobody is owed an alert,
// and so nobody a resolution notice either. An incident reported and
// resolved before the operator routed it is not one: it may have been
// sent its alerts by a reconcile whose outcome was never stored, and
// those receivers are owed the resolution.
func (a *advancer) importedResolved() bool {
	return a.inc.Spec.Resolution != nil && a.inc.Spec.Imported.Includes("resolution")
}

// nextEscalation is when the level after ref's is due, or nil at the end.
func nextEscalation(chain securityv1alpha1.Escalation, ref *securityv1alpha1.PolicyReference) *metav1.Time {
	var wait time.Duration
	switch {
	case int(ref.Level)+1 < len(chain.Levels):
		wait = durationOf(chain.Levels[ref.Level+1].After)
	case ref.Repeat < chain.Repeat:
		wait = durationOf(chain.RepeatAfter)
	default:
		return nil
	}
	t := metav1.NewTime(ref.LevelReachedAt.Add(wait))
	return &t
}

// reach records the deliveries of the level ref has reached.
func (a *advancer) reach(policy *securityv1alpha1.EscalationPolicy, ref *securityv1alpha1.PolicyReference, notice string) {
	for _, target := range policy.Spec.Escalation.Levels[ref.Level].Notify {
		a.owe(policy, ref.Level, ref.Repeat, target, notice, "")
	}
	if notice == NoticeEscalated {
		a.tellReporter(NoticeEscalated)
	}
}

// owe records the deliveries for one notify target; about names the
// regulatory obligation a notice concerns, or is empty.
func (a *advancer) owe(policy *securityv1alpha1.EscalationPolicy, level, repeat int32, target securityv1alpha1.NotifyTarget, notice, about string) {
	uid := string(a.inc.UID)
	scope := notice
	if about != "" {
		scope = notice + ":" + about
	}
	if target.Receiver != "" {
		a.add(securityv1alpha1.NotificationRecord{
			DeliveryAttempt: securityv1alpha1.DeliveryAttempt{
				Key:      delivery.Key(uid, policy.Name, level, repeat, noticeScope(scope, target.Receiver)),
				Receiver: target.Receiver,
				Channel:  a.ChannelOf(policy, target.Receiver),
			},
			Policy:     policy.Name,
			Level:      level,
			Notice:     notice,
			Obligation: about,
		})
		return
	}
	people := a.resolve(target.Role)
	if len(people) == 0 {
		a.event(true, "RecipientUnknown", "Nobody to tell as %s for %s level %d: no e-mail address is known for the role", target.Role, policy.Name, level)
	}
	for _, p := range people {
		a.add(securityv1alpha1.NotificationRecord{
			DeliveryAttempt: securityv1alpha1.DeliveryAttempt{
				Key:      delivery.Key(uid, policy.Name, level, repeat, noticeScope(scope, "role:"+string(target.Role)+":"+p.email)),
				Receiver: string(target.Role),
				Channel:  ChannelEmail,
			},
			Policy:      policy.Name,
			Level:       level,
			Role:        target.Role,
			Recipient:   p.email,
			StandsInFor: p.standsInFor,
			Notice:      notice,
			Obligation:  about,
		})
	}
}

// noticeScope makes notices' keys differ from the escalation's own.
func noticeScope(notice, who string) string {
	if notice == "" || notice == NoticeEscalated {
		return who
	}
	return "notice:" + notice + ":" + who
}

// add appends a pending delivery unless one with its key exists.
func (a *advancer) add(rec securityv1alpha1.NotificationRecord) {
	for i := range a.inc.Status.Notifications {
		if a.inc.Status.Notifications[i].Key == rec.Key {
			return
		}
	}
	rec.State = securityv1alpha1.DeliveryPending
	a.inc.Status.Notifications = append(a.inc.Status.Notifications, rec)
}
