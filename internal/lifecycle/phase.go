package lifecycle

// Phase: where the incident is in its life, and the notices a change of
// phase owes.

import (
	"fmt"
	"slices"
	"strings"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/delivery"
)

// noticeToEveryone owes a notice to each receiver and person already told.
func (a *advancer) noticeToEveryone(notice string) {
	type who struct{ policy, receiver, recipient string }
	seen := map[who]bool{}
	records := slices.Clone(a.inc.Status.Notifications)
	for _, rec := range records {
		w := who{rec.Policy, rec.Receiver, rec.Recipient}
		if rec.State != securityv1alpha1.DeliveryDelivered || seen[w] || rec.Notice == notice {
			continue
		}
		seen[w] = true
		rec := securityv1alpha1.NotificationRecord{
			Key:       delivery.Key(string(a.inc.UID), rec.Policy, 0, 0, noticeScope(notice, rec.Receiver+":"+rec.Recipient)),
			Policy:    rec.Policy,
			Receiver:  rec.Receiver,
			Channel:   rec.Channel,
			Role:      rec.Role,
			Recipient: rec.Recipient,
			Notice:    notice,
		}
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
				Key:       delivery.Key(string(a.inc.UID), rec.Policy, 0, 0, noticeScope(notice, "reporter:"+rec.Recipient+":"+a.phaseWord())),
				Policy:    rec.Policy,
				Receiver:  rec.Receiver,
				Channel:   ChannelEmail,
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
