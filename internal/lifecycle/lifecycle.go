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
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/calendar"
	"github.com/incidentops/incident-operator/internal/delivery"
)

// DefaultAuthorityNotificationWithin is GDPR Art. 33's 72 hours.
const DefaultAuthorityNotificationWithin = 72 * time.Hour

// Notices, as recorded in NotificationRecord.Notice.
const (
	NoticeMajor        = "Major"
	NoticeEscalated    = "Escalated"
	NoticeAcknowledged = "Acknowledged"
	NoticeResolved     = "Resolved"
	NoticeSLAAtRisk    = "SLAAtRisk"
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
// are appended to status.notifications as Pending.
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
		a.noticeToEveryone(NoticeAcknowledged)
	}
	if a.inc.Spec.Resolution != nil && st.ResolvedAt == nil {
		st.ResolvedAt = &now
		a.event(false, "Resolved", "%s by %s", a.inc.Spec.Resolution.State, a.inc.Spec.Resolution.By)
		a.noticeToEveryone(NoticeResolved)
	}
	if st.AcknowledgedAt != nil || st.ResolvedAt != nil {
		for i := range st.Policies {
			st.Policies[i].NextEscalationAt = nil
		}
	}

	a.phase()
	a.sla()
	a.authority()
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
	if ref.LevelReachedAt == nil {
		ref.Level, ref.Repeat, ref.LevelReachedAt = 0, 0, a.inc.Status.RoutedAt.DeepCopy()
		a.reach(policy, ref, "")
		ref.NextEscalationAt = nextEscalation(chain, ref)
	}
	stopped := a.inc.Spec.Acknowledgement != nil || a.inc.Spec.Resolution != nil
	for !stopped && ref.NextEscalationAt != nil && !ref.NextEscalationAt.Time.After(a.Now) {
		// The level is reached at its scheduled time, not when the operator
		// got round to it, so lateness never accumulates down the chain.
		at := *ref.NextEscalationAt
		if int(ref.Level)+1 < len(chain.Levels) {
			ref.Level++
		} else {
			ref.Level, ref.Repeat = 0, ref.Repeat+1
		}
		ref.LevelReachedAt = &at
		a.reach(policy, ref, NoticeEscalated)
		a.eventFor(true, "Escalated", fmt.Sprintf("Escalate %s to %d.%d", ref.Name, ref.Level, ref.Repeat), "Escalated to level %d of %s (repeat %d): not acknowledged since %s",
			ref.Level, ref.Name, ref.Repeat, a.inc.Status.RoutedAt.UTC().Format(time.RFC3339))
		ref.NextEscalationAt = nextEscalation(chain, ref)
	}
	if !stopped && ref.NextEscalationAt != nil {
		a.wake(ref.NextEscalationAt.Time)
	}
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
		a.owe(policy, ref.Level, ref.Repeat, target, notice)
	}
	if notice == NoticeEscalated {
		a.tellReporter(NoticeEscalated)
	}
}

// owe records the deliveries for one notify target.
func (a *advancer) owe(policy *securityv1alpha1.EscalationPolicy, level, repeat int32, target securityv1alpha1.NotifyTarget, notice string) {
	uid := string(a.inc.UID)
	if target.Receiver != "" {
		a.add(securityv1alpha1.NotificationRecord{
			Key:      delivery.Key(uid, policy.Name, level, repeat, noticeScope(notice, target.Receiver)),
			Policy:   policy.Name,
			Level:    level,
			Receiver: target.Receiver,
			Channel:  a.ChannelOf(policy, target.Receiver),
			Notice:   notice,
		})
		return
	}
	people := a.resolve(target.Role)
	if len(people) == 0 {
		a.event(true, "RecipientUnknown", "Nobody to tell as %s for %s level %d: no e-mail address is known for the role", target.Role, policy.Name, level)
	}
	for _, email := range people {
		a.add(securityv1alpha1.NotificationRecord{
			Key:       delivery.Key(uid, policy.Name, level, repeat, noticeScope(notice, "role:"+string(target.Role)+":"+email)),
			Policy:    policy.Name,
			Level:     level,
			Receiver:  string(target.Role),
			Channel:   ChannelEmail,
			Role:      target.Role,
			Recipient: email,
			Notice:    notice,
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

// resolve finds the e-mail addresses of the people in a role.
func (a *advancer) resolve(role securityv1alpha1.Role) []string {
	var out []string
	addEmail := func(c *securityv1alpha1.Contact) {
		if c != nil && c.Email != "" && !slices.Contains(out, c.Email) {
			out = append(out, c.Email)
		}
	}
	reporter := a.inc.Spec.Reporter
	switch role {
	case securityv1alpha1.RoleReporter:
		addEmail(&reporter.Contact)
	case securityv1alpha1.RoleLineManager:
		addEmail(reporter.LineManager)
	default:
		for _, name := range a.inc.Spec.Assets {
			asset := a.Assets[name]
			if asset == nil {
				continue
			}
			switch role {
			case securityv1alpha1.RoleAssetOwner:
				addEmail(&asset.Spec.Owner)
			case securityv1alpha1.RoleSystemOwner:
				addEmail(asset.Spec.SystemOwner)
			case securityv1alpha1.RoleSupplier:
				if s := asset.Spec.Supplier; s != nil {
					if s.ContactVia == securityv1alpha1.ContactNamedContact {
						addEmail(s.NamedContact)
					} else {
						addEmail(s.HelpDesk)
					}
				}
			}
		}
	}
	return out
}

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

// checkAssets reports assets the incident names that do not exist.
func (a *advancer) checkAssets() {
	var missing []string
	for _, name := range a.inc.Spec.Assets {
		if a.Assets[name] == nil {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		if len(a.inc.Spec.Assets) > 0 {
			a.condition(securityv1alpha1.ConditionAssetsFound, metav1.ConditionTrue, securityv1alpha1.ReasonAllFound,
				fmt.Sprintf("%d assets found", len(a.inc.Spec.Assets)))
		}
		return
	}
	message := fmt.Sprintf("Asset %s not found in namespace %s; people reached through it are not told", strings.Join(missing, ", "), a.inc.Namespace)
	if a.condition(securityv1alpha1.ConditionAssetsFound, metav1.ConditionFalse, securityv1alpha1.ReasonAssetNotFound, message) {
		a.event(true, "AssetNotFound", "%s", message)
	}
}

// major sets the Major condition from the first policy that defines what
// major means (by default: Critical or service-affecting), and tells each
// policy's major receivers once.
func (a *advancer) major() {
	var def *securityv1alpha1.Major
	for _, ref := range a.inc.Status.Policies {
		if p := a.Policies[ref.Name]; p != nil && p.Spec.Major != nil {
			def = p.Spec.Major
			break
		}
	}
	severities := []securityv1alpha1.Severity{securityv1alpha1.SeverityCritical}
	serviceAffecting := true
	if def != nil {
		if len(def.Severities) > 0 {
			severities = def.Severities
		}
		if def.ServiceAffecting != nil {
			serviceAffecting = *def.ServiceAffecting
		}
	}
	spec := a.inc.Spec
	var why string
	switch {
	case slices.Contains(severities, spec.Severity):
		why = "severity " + string(spec.Severity)
	case serviceAffecting && spec.Impact.ServiceAffecting:
		why = "service affecting"
	}
	if why == "" {
		a.condition(securityv1alpha1.ConditionMajor, metav1.ConditionFalse, securityv1alpha1.ReasonNotMajor, "not a major incident")
		return
	}
	if a.condition(securityv1alpha1.ConditionMajor, metav1.ConditionTrue, securityv1alpha1.ReasonMajorIncident, "major incident: "+why) {
		a.event(true, "MajorIncident", "Major incident: %s", why)
	}
	for _, ref := range a.inc.Status.Policies {
		p := a.Policies[ref.Name]
		if p == nil || p.Spec.Major == nil {
			continue
		}
		for _, target := range p.Spec.Major.Notify {
			a.owe(p, 0, 0, target, NoticeMajor)
		}
	}
}

// sla computes the deadlines of the first policy with a target for the
// incident's severity, and sets SLAAtRisk and SLABreached.
func (a *advancer) sla() {
	st := &a.inc.Status
	if st.SLA == nil {
		st.SLA = a.slaDeadlines()
		if st.SLA == nil {
			return
		}
	}
	s := st.SLA
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
		Key:       delivery.Key(string(a.inc.UID), policy, 0, 0, noticeScope(NoticeSLAAtRisk, target+":"+email)),
		Policy:    policy,
		Receiver:  string(securityv1alpha1.RoleReporter),
		Channel:   ChannelEmail,
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

// slaDeadlines finds the applicable target and computes its deadlines from
// the routing time.
func (a *advancer) slaDeadlines() *securityv1alpha1.SLAStatus {
	for _, ref := range a.inc.Status.Policies {
		p := a.Policies[ref.Name]
		if p == nil || p.Spec.SLA == nil {
			continue
		}
		for _, target := range p.Spec.SLA.Targets {
			if !slices.Contains(target.Severities, a.inc.Spec.Severity) {
				continue
			}
			s, err := Deadlines(a.inc.Status.RoutedAt.Time, p.Name, p.Spec.SLA.Calendar, target)
			if err != nil {
				a.event(true, "SLANotComputed", "EscalationPolicy %s: spec.sla.calendar: %v", p.Name, err)
				return nil
			}
			return s
		}
	}
	return nil
}

// Deadlines computes a target's deadlines for an incident routed at start.
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

// authority keeps the clock for reporting a personal data breach to the
// supervisory authority. Resolving the incident does not stop it unless the
// incident turned out a false positive or a duplicate: a breach that has
// been dealt with must still be reported.
func (a *advancer) authority() {
	spec, st := a.inc.Spec, &a.inc.Status
	if !spec.Impact.PersonalData {
		return
	}
	if st.AuthorityNotificationDeadline == nil {
		within := DefaultAuthorityNotificationWithin
		for _, ref := range st.Policies {
			if p := a.Policies[ref.Name]; p != nil && p.Spec.Regulatory != nil && p.Spec.Regulatory.AuthorityNotificationWithin != nil {
				within = min(within, p.Spec.Regulatory.AuthorityNotificationWithin.Duration)
			}
		}
		deadline := metav1.NewTime(st.AwareAt.Add(within).UTC())
		st.AuthorityNotificationDeadline = &deadline
	}
	deadline := st.AuthorityNotificationDeadline.Time
	by := deadline.UTC().Format(time.RFC3339)
	if r := spec.Resolution; r != nil && spec.AuthorityNotification == nil && r.State != securityv1alpha1.ResolutionResolved {
		a.condition(securityv1alpha1.ConditionAuthorityNotificationRequired, metav1.ConditionFalse, securityv1alpha1.ReasonNotRequired,
			fmt.Sprintf("resolved as %s: no breach to report", r.State))
		meta.RemoveStatusCondition(&st.Conditions, securityv1alpha1.ConditionAuthorityDeadlineMissed)
		return
	}
	if n := spec.AuthorityNotification; n != nil {
		at := n.NotifiedAt.UTC().Format(time.RFC3339)
		reference := ""
		if n.Reference != "" {
			reference = ", reference " + n.Reference
		}
		a.condition(securityv1alpha1.ConditionAuthorityNotificationRequired, metav1.ConditionFalse, securityv1alpha1.ReasonReported, "reported at "+at)
		if n.NotifiedAt.After(deadline) {
			message := fmt.Sprintf("reported at %s%s, after the deadline %s: %s", at, reference, by, n.DelayReason)
			a.condition(securityv1alpha1.ConditionAuthorityNotified, metav1.ConditionTrue, securityv1alpha1.ReasonReportedLate, message)
			if a.condition(securityv1alpha1.ConditionAuthorityDeadlineMissed, metav1.ConditionTrue, securityv1alpha1.ReasonReportedLate, message) {
				a.event(true, "AuthorityDeadlineMissed", "The supervisory authority was told after the deadline %s", by)
			}
			return
		}
		a.condition(securityv1alpha1.ConditionAuthorityNotified, metav1.ConditionTrue, securityv1alpha1.ReasonReported,
			fmt.Sprintf("reported at %s%s, before the deadline %s", at, reference, by))
		a.condition(securityv1alpha1.ConditionAuthorityDeadlineMissed, metav1.ConditionFalse, securityv1alpha1.ReasonReported, "reported in time")
		return
	}
	a.condition(securityv1alpha1.ConditionAuthorityNotified, metav1.ConditionFalse, securityv1alpha1.ReasonNotReported, "not reported yet")
	// A deadline once missed stays missed: a clock set back must not undo it.
	missed := meta.FindStatusCondition(st.Conditions, securityv1alpha1.ConditionAuthorityDeadlineMissed)
	if !a.Now.Before(deadline) || (missed != nil && missed.Status == metav1.ConditionTrue && missed.Reason == securityv1alpha1.ReasonNotReported) {
		message := fmt.Sprintf("personal data breach not reported to the supervisory authority by the deadline %s; record spec.authorityNotification with delayReason", by)
		a.condition(securityv1alpha1.ConditionAuthorityNotificationRequired, metav1.ConditionTrue, securityv1alpha1.ReasonNotReported, message)
		if a.condition(securityv1alpha1.ConditionAuthorityDeadlineMissed, metav1.ConditionTrue, securityv1alpha1.ReasonNotReported, message) {
			a.event(true, "AuthorityDeadlineMissed", "%s", message)
		}
		return
	}
	a.condition(securityv1alpha1.ConditionAuthorityNotificationRequired, metav1.ConditionTrue, securityv1alpha1.ReasonPersonalData,
		"personal data is involved: report the breach to the supervisory authority by "+by)
	a.condition(securityv1alpha1.ConditionAuthorityDeadlineMissed, metav1.ConditionFalse, securityv1alpha1.ReasonPersonalData, "the deadline is "+by)
	a.wake(deadline)
}
