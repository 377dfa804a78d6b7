package lifecycle

// Phase: where the incident is in its life, and the notices a change of
// phase owes.

import (
	"fmt"
	"strings"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/delivery"
)

// phaseNotices owes the notices of the phase the incident is in: the
// acknowledgement once it is acknowledged, the resolution once it is
// resolved, to every receiver and person that anything about the incident
// was owed to (an alert, an escalation, a Major or SLAAtRisk notice),
// whatever became of it: pending, retrying or delivered.
//
// They are worked out again on every Advance from the stamps and records
// in status, never from seeing the change happen: a notice has the same
// key every time, so it is recorded once, and an operator killed at any
// moment owes the same notices when it starts again. When they are sent
// is the ledger's to say: each waits for what was owed to its recipient
// before it (delivery.Held), and is settled unsent when none of that
// reached the recipient (delivery.NotNeeded), which is done here.
func (a *advancer) phaseNotices() {
	st := &a.inc.Status
	if st.AcknowledgedAt != nil {
		a.noticeToEveryone(NoticeAcknowledged)
	}
	if st.ResolvedAt != nil {
		a.noticeToEveryone(NoticeResolved)
	}
	delivery.SkipNotNeeded(st.Notifications)
}

// noticeToEveryone owes a notice to each receiver and person owed anything
// about the incident before. A recipient owed the resolution already is
// not told of an acknowledgement made after it.
func (a *advancer) noticeToEveryone(notice string) {
	type who struct{ policy, receiver, recipient string }
	records := a.inc.Status.Notifications
	done := map[who]bool{}
	for _, rec := range records {
		if rec.Notice == notice || rec.Notice == NoticeResolved {
			done[who{rec.Policy, rec.Receiver, rec.Recipient}] = true
		}
	}
	var owed []securityv1alpha1.NotificationRecord
	for _, rec := range records {
		w := who{rec.Policy, rec.Receiver, rec.Recipient}
		if delivery.FollowUp(&rec) || done[w] {
			continue
		}
		done[w] = true
		owed = append(owed, securityv1alpha1.NotificationRecord{
			DeliveryAttempt: securityv1alpha1.DeliveryAttempt{
				Key:      delivery.Key(string(a.inc.UID), rec.Policy, 0, 0, noticeScope(notice, rec.Receiver+":"+rec.Recipient)),
				Receiver: rec.Receiver,
				Channel:  rec.Channel,
			},
			Policy:    rec.Policy,
			Role:      rec.Role,
			Recipient: rec.Recipient,
			Notice:    notice,
		})
	}
	for _, rec := range owed {
		a.add(rec)
	}
}

// tellReporter sends the reporter a notice, when they have been told of the
// incident by role before: people reached as Reporter are kept informed of
// every change of phase.
func (a *advancer) tellReporter(notice string) {
	for _, rec := range a.inc.Status.Notifications {
		if rec.Role == securityv1alpha1.RoleReporter && rec.Notice == "" {
			a.add(securityv1alpha1.NotificationRecord{
				DeliveryAttempt: securityv1alpha1.DeliveryAttempt{
					Key:      delivery.Key(string(a.inc.UID), rec.Policy, 0, 0, noticeScope(notice, "reporter:"+rec.Recipient+":"+a.phaseWord())),
					Receiver: rec.Receiver,
					Channel:  ChannelEmail,
				},
				Policy:    rec.Policy,
				Role:      securityv1alpha1.RoleReporter,
				Recipient: rec.Recipient,
				Notice:    notice,
			})
			return
		}
	}
}

func (a *advancer) phaseWord() string {
	var parts []string
	for _, p := range a.inc.Status.Policies {
		parts = append(parts, fmt.Sprintf("%s/%d/%d", p.Name, p.Level, p.Repeat))
	}
	return strings.Join(parts, ",")
}

// phase derives the phase from spec and status.
func (a *advancer) phase() {
	st := &a.inc.Status
	escalated := false
	st.EscalationLevel = 0
	for _, p := range st.Policies {
		escalated = escalated || p.Level > 0 || p.Repeat > 0
		st.EscalationLevel = max(st.EscalationLevel, p.Level)
	}
	switch {
	case st.ResolvedAt != nil:
		st.Phase = securityv1alpha1.PhaseResolved
	case st.AcknowledgedAt != nil:
		st.Phase = securityv1alpha1.PhaseAcknowledged
	case escalated:
		st.Phase = securityv1alpha1.PhaseEscalated
	default:
		st.Phase = securityv1alpha1.PhaseOpen
	}
}
