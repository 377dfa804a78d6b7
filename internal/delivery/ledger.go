package delivery

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Channel names, as recorded in status and metrics.
const (
	ChannelWebhook   = "webhook"
	ChannelSlack     = "slack"
	ChannelTeams     = "teams"
	ChannelPagerDuty = "pagerduty"
	ChannelEmail     = "email"
	ChannelUnknown   = "unknown"
)

// Channel names the channel a receiver uses.
func Channel(r *securityv1alpha1.Receiver) string {
	switch {
	case r.Webhook != nil:
		return ChannelWebhook
	case r.Slack != nil:
		return ChannelSlack
	case r.Teams != nil:
		return ChannelTeams
	case r.PagerDuty != nil:
		return ChannelPagerDuty
	case r.Email != nil:
		return ChannelEmail
	}
	return ChannelUnknown
}

// ChannelOf names the channel of the policy's receiver called receiver.
func ChannelOf(policy *securityv1alpha1.EscalationPolicy, receiver string) string {
	if r := Receiver(policy, receiver); r != nil {
		return Channel(r)
	}
	return ChannelUnknown
}

// Receiver is the policy's receiver called name, or nil.
func Receiver(policy *securityv1alpha1.EscalationPolicy, name string) *securityv1alpha1.Receiver {
	if policy == nil {
		return nil
	}
	for i := range policy.Spec.Receivers {
		if policy.Spec.Receivers[i].Name == name {
			return &policy.Spec.Receivers[i]
		}
	}
	return nil
}

// Find is the record with key, or nil.
func Find(records []securityv1alpha1.NotificationRecord, key string) *securityv1alpha1.NotificationRecord {
	for i := range records {
		if records[i].Key == key {
			return &records[i]
		}
	}
	return nil
}

// Settled is true for a delivery that needs no more attempts.
func Settled(a *securityv1alpha1.DeliveryAttempt) bool {
	return a.State == securityv1alpha1.DeliveryDelivered || a.State == securityv1alpha1.DeliveryAbandoned
}

// AttemptDue is true for a delivery to try now: pending, or failed and
// its retry time has come.
func AttemptDue(a *securityv1alpha1.DeliveryAttempt, now time.Time) bool {
	return !Settled(a) && (a.NextAttemptAt == nil || !a.NextAttemptAt.After(now))
}

// Due lists the indexes of the records to try now: pending ones, and
// failed ones whose retry time has come. A follow-up is left out while it
// is Held, and when it is NotNeeded.
func Due(records []securityv1alpha1.NotificationRecord, now time.Time) []int {
	var due []int
	for i := range records {
		if !AttemptDue(&records[i].DeliveryAttempt, now) || Held(records, i) || NotNeeded(records, i) {
			continue
		}
		due = append(due, i)
	}
	return due
}

// NextRetry is the time until the earliest retry that is not due yet, at
// least a second, or zero when none is waiting. A follow-up no longer
// held, whose wait ended in the attempts just made, counts as a retry due
// now: it is sent (or settled as not needed) a second later.
func NextRetry(records []securityv1alpha1.NotificationRecord, now time.Time) time.Duration {
	return NextRetryExcept(records, now, nil)
}

// NextRetryExcept is NextRetry leaving out the records for which inFlight
// is true: sends still out, which bring the caller back when they end.
// They stay in records because, unsettled, they hold the follow-ups owed
// after them: a list without them would call those due, and wake the
// caller every second until the sends end.
func NextRetryExcept(records []securityv1alpha1.NotificationRecord, now time.Time, inFlight func(key string) bool) time.Duration {
	var waiting []*securityv1alpha1.DeliveryAttempt
	for i := range records {
		rec := &records[i]
		if inFlight != nil && inFlight(rec.Key) {
			continue
		}
		if !Settled(&rec.DeliveryAttempt) && rec.NextAttemptAt == nil && FollowUp(rec) && !Held(records, i) {
			// No retry is sooner than a second.
			return time.Second
		}
		waiting = append(waiting, &rec.DeliveryAttempt)
	}
	return EarliestRetry(waiting, now)
}

// EarliestRetry is the time until the earliest retry of attempts that is
// not due yet, at least a second, or zero when none is waiting.
func EarliestRetry(attempts []*securityv1alpha1.DeliveryAttempt, now time.Time) time.Duration {
	var next time.Duration
	for _, a := range attempts {
		if Settled(a) || a.NextAttemptAt == nil {
			continue
		}
		wait := max(a.NextAttemptAt.Sub(now), time.Second)
		if next == 0 || wait < next {
			next = wait
		}
	}
	return next
}

// MaxAttempts is how often the policy lets one delivery be tried.
func MaxAttempts(policy *securityv1alpha1.EscalationPolicy) int32 {
	if policy != nil && policy.Spec.Delivery != nil && policy.Spec.Delivery.MaxAttempts > 0 {
		return policy.Spec.Delivery.MaxAttempts
	}
	return securityv1alpha1.DefaultMaxAttempts
}

// Delivered records that the receiver accepted the delivery at at.
func Delivered(a *securityv1alpha1.DeliveryAttempt, at time.Time) {
	t := metav1.NewTime(at.Truncate(time.Second))
	a.Attempts++
	a.LastAttemptAt = &t
	a.State = securityv1alpha1.DeliveryDelivered
	a.DeliveredAt = &t
	a.NextAttemptAt = nil
	a.LastError = ""
}

// Failure is a failed attempt as the ledger needs it.
type Failure struct {
	// Error is why, as people read it; it is stored as it is.
	Error string
	// Permanent is true when no retry can mend the failure.
	Permanent bool
	// RetryAfter is how long the receiver asked to be left alone, or zero.
	RetryAfter time.Duration
}

// Failed records a failed attempt at now. The delivery is abandoned when
// the failure is permanent or maxAttempts are used up (MaxAttempts for an
// incident's policy); otherwise it is retried after the backoff's delay,
// or later if the receiver asked. It reports whether the delivery was
// abandoned.
func Failed(a *securityv1alpha1.DeliveryAttempt, maxAttempts int32, f Failure, now time.Time, backoff Backoff) (abandoned bool) {
	t := metav1.NewTime(now.Truncate(time.Second))
	a.Attempts++
	a.LastAttemptAt = &t
	a.LastError = f.Error
	if f.Permanent || a.Attempts >= maxAttempts {
		a.State = securityv1alpha1.DeliveryAbandoned
		a.NextAttemptAt = nil
		return true
	}
	delay := max(backoff.Delay(a.Attempts, nil), f.RetryAfter)
	// Status keeps whole seconds; rounding up keeps a retry from ever
	// coming sooner than the backoff asks.
	next := metav1.NewTime(ceilSecond(now.Add(delay)))
	a.State = securityv1alpha1.DeliveryFailed
	a.NextAttemptAt = &next
	return false
}

func ceilSecond(t time.Time) time.Time {
	if c := t.Truncate(time.Second); !c.Equal(t) {
		return c.Add(time.Second)
	}
	return t
}

// FallbackReceiver is who the policy tells in place of rec's receiver when
// rec is abandoned, or "". A fallback delivery is never itself replaced,
// and a receiver is never its own fallback.
func FallbackReceiver(policy *securityv1alpha1.EscalationPolicy, rec *securityv1alpha1.NotificationRecord) string {
	if policy == nil || policy.Spec.Delivery == nil || rec.FallbackFor != "" || policy.Spec.Delivery.FallbackReceiver == rec.Receiver {
		return ""
	}
	return policy.Spec.Delivery.FallbackReceiver
}

// Fallback is the delivery owed to the policy's fallback receiver for the
// abandoned rec, or nil when none is owed or it is already recorded.
func Fallback(incident *securityv1alpha1.Incident, policy *securityv1alpha1.EscalationPolicy, rec *securityv1alpha1.NotificationRecord) *securityv1alpha1.NotificationRecord {
	fallback := FallbackReceiver(policy, rec)
	if rec.State != securityv1alpha1.DeliveryAbandoned || fallback == "" {
		return nil
	}
	key := Key(string(incident.UID), rec.Policy, rec.Level, 0, fallback+"\x00fallback-for\x00"+rec.Receiver)
	if Find(incident.Status.Notifications, key) != nil {
		return nil
	}
	return &securityv1alpha1.NotificationRecord{
		DeliveryAttempt: securityv1alpha1.DeliveryAttempt{
			Key:      key,
			Receiver: fallback,
			Channel:  ChannelOf(policy, fallback),
			State:    securityv1alpha1.DeliveryPending,
		},
		Policy:      rec.Policy,
		Level:       rec.Level,
		FallbackFor: rec.Key,
	}
}

// Notices that close what was sent before, as NotificationRecord.Notice
// records them.
const (
	NoticeAcknowledged = "Acknowledged"
	NoticeResolved     = "Resolved"
)

// NotNeededError is what a follow-up settled by SkipNotNeeded records as
// its error.
const NotNeededError = "not sent: nothing sent about this incident reached this receiver (every earlier delivery to it was abandoned), so there is nothing to close"

// FollowUp is true for a notice that closes what the deliveries before it
// to the same recipient opened: that the incident was acknowledged or
// resolved. PagerDuty acknowledges and resolves, under the dedup_key, the
// alert that a trigger opened.
func FollowUp(rec *securityv1alpha1.NotificationRecord) bool {
	return rec.Notice == NoticeAcknowledged || rec.Notice == NoticeResolved
}

// SameRecipient is true when two records go to the same place: the same
// receiver of the same policy, or the same person reached by the same role.
func SameRecipient(a, b *securityv1alpha1.NotificationRecord) bool {
	return a.Policy == b.Policy && a.Receiver == b.Receiver && a.Recipient == b.Recipient
}

// before sums up the records ahead of records[i] that go to its recipient.
// Records are appended in the order they are owed, so these are what was
// owed to the recipient before it.
func before(records []securityv1alpha1.NotificationRecord, i int) (unsettled, alerted, reached bool) {
	for j := range i {
		rec := &records[j]
		if !SameRecipient(rec, &records[i]) {
			continue
		}
		unsettled = unsettled || !Settled(&rec.DeliveryAttempt)
		if !FollowUp(rec) {
			alerted = true
			reached = reached || rec.State == securityv1alpha1.DeliveryDelivered
		}
	}
	return unsettled, alerted, reached
}

// Held is true for a follow-up that must wait: a record owed before it to
// the same recipient is still pending or being retried. A recipient never
// hears of the end before the start, whatever order the attempts succeed
// in: PagerDuty drops an acknowledge or resolve for an alert it has not
// been sent, and a trigger arriving after the resolve opens the alert
// again; a resolution waits for the acknowledgement notice too.
func Held(records []securityv1alpha1.NotificationRecord, i int) bool {
	if !FollowUp(&records[i]) {
		return false
	}
	unsettled, _, _ := before(records, i)
	return unsettled
}

// NotNeeded is true for a follow-up whose recipient nothing reached: every
// alert owed to it before was abandoned. It is never sent: as Alertmanager
// sends a resolved notification only to receivers told of the firing
// alert, nobody hears of the end of an incident they were never told of.
// The policy's fallback receiver, told in the abandoned alert's place, is
// owed its own follow-ups.
func NotNeeded(records []securityv1alpha1.NotificationRecord, i int) bool {
	rec := &records[i]
	if !FollowUp(rec) || Settled(&rec.DeliveryAttempt) {
		return false
	}
	unsettled, alerted, reached := before(records, i)
	return !unsettled && alerted && !reached
}

// SkipNotNeeded settles every follow-up that is NotNeeded as Abandoned
// with no attempt made, saying why. It reports how many it settled.
func SkipNotNeeded(records []securityv1alpha1.NotificationRecord) int {
	skipped := 0
	for i := range records {
		if !NotNeeded(records, i) {
			continue
		}
		rec := &records[i]
		rec.State = securityv1alpha1.DeliveryAbandoned
		rec.NextAttemptAt = nil
		rec.LastError = NotNeededError
		skipped++
	}
	return skipped
}
