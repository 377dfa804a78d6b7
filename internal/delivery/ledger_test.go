package delivery

import (
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) *metav1.Time { t := metav1.NewTime(t0.Add(d)); return &t }

func record(key string, state securityv1alpha1.DeliveryState, next *metav1.Time) securityv1alpha1.NotificationRecord {
	return securityv1alpha1.NotificationRecord{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{Key: key, Receiver: "hook-" + key, State: state, NextAttemptAt: next}, Policy: "desk"}
}

func policyWith(delivery *securityv1alpha1.Delivery) *securityv1alpha1.EscalationPolicy {
	return &securityv1alpha1.EscalationPolicy{Spec: securityv1alpha1.EscalationPolicySpec{
		Receivers: []securityv1alpha1.Receiver{
			{Name: "hook-a", Webhook: &securityv1alpha1.WebhookReceiver{}},
			{Name: "mailbox", Email: &securityv1alpha1.EmailReceiver{To: []string{"a@example.org"}}},
		},
		Delivery: delivery,
	}}
}

func TestDueAndNextRetry(t *testing.T) {
	tests := map[string]struct {
		records   []securityv1alpha1.NotificationRecord
		wantDue   []int
		wantRetry time.Duration
	}{
		"nothing":         {},
		"pending is due":  {records: []securityv1alpha1.NotificationRecord{record("a", securityv1alpha1.DeliveryPending, nil)}, wantDue: []int{0}},
		"settled are not": {records: []securityv1alpha1.NotificationRecord{record("a", securityv1alpha1.DeliveryDelivered, nil), record("b", securityv1alpha1.DeliveryAbandoned, nil)}},
		"a retry that has come": {
			records: []securityv1alpha1.NotificationRecord{record("a", securityv1alpha1.DeliveryFailed, at(0)), record("b", securityv1alpha1.DeliveryFailed, at(-time.Minute))},
			wantDue: []int{0, 1}, wantRetry: time.Second,
		},
		"retries to come, the earliest wins": {
			records:   []securityv1alpha1.NotificationRecord{record("a", securityv1alpha1.DeliveryFailed, at(time.Minute)), record("b", securityv1alpha1.DeliveryFailed, at(20*time.Second))},
			wantRetry: 20 * time.Second,
		},
		"a retry a moment away waits at least a second": {
			records:   []securityv1alpha1.NotificationRecord{record("a", securityv1alpha1.DeliveryFailed, at(time.Millisecond))},
			wantRetry: time.Second,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Due(tc.records, t0); !slices.Equal(got, tc.wantDue) {
				t.Errorf("Due = %v, want %v", got, tc.wantDue)
			}
			if got := NextRetry(tc.records, t0); got != tc.wantRetry {
				t.Errorf("NextRetry = %v, want %v", got, tc.wantRetry)
			}
		})
	}
}

func TestFailed(t *testing.T) {
	backoff := Backoff{Initial: time.Second, Max: time.Minute}
	tests := map[string]struct {
		attempts      int32
		maxAttempts   int32
		failure       Failure
		wantAbandoned bool
		wantNext      *metav1.Time
	}{
		"first failure backs off":            {failure: Failure{Error: "503"}, wantNext: at(time.Second)},
		"third failure backs off more":       {attempts: 2, failure: Failure{Error: "503"}, wantNext: at(4 * time.Second)},
		"the receiver asks for longer":       {failure: Failure{Error: "429", RetryAfter: 90 * time.Second}, wantNext: at(90 * time.Second)},
		"a shorter ask does not hurry":       {attempts: 3, failure: Failure{Error: "429", RetryAfter: time.Second}, wantNext: at(8 * time.Second)},
		"a sub-second wait rounds up":        {failure: Failure{Error: "503", RetryAfter: 1500 * time.Millisecond}, wantNext: at(2 * time.Second)},
		"attempts used up":                   {attempts: 9, failure: Failure{Error: "503"}, wantAbandoned: true},
		"the policy's own limit":             {attempts: 2, maxAttempts: 3, failure: Failure{Error: "503"}, wantAbandoned: true},
		"permanent gives up at the first go": {failure: Failure{Error: "404", Permanent: true}, wantAbandoned: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rec := record("a", securityv1alpha1.DeliveryPending, nil)
			rec.Attempts = tc.attempts
			var policy *securityv1alpha1.EscalationPolicy
			if tc.maxAttempts > 0 {
				policy = policyWith(&securityv1alpha1.Delivery{MaxAttempts: tc.maxAttempts})
			}
			abandoned := Failed(&rec.DeliveryAttempt, MaxAttempts(policy), tc.failure, t0, backoff)
			if abandoned != tc.wantAbandoned {
				t.Fatalf("abandoned = %v, want %v", abandoned, tc.wantAbandoned)
			}
			if rec.Attempts != tc.attempts+1 || rec.LastError != tc.failure.Error || !rec.LastAttemptAt.Equal(at(0)) {
				t.Errorf("record = %+v", rec)
			}
			wantState := securityv1alpha1.DeliveryFailed
			if tc.wantAbandoned {
				wantState = securityv1alpha1.DeliveryAbandoned
			}
			if rec.State != wantState {
				t.Errorf("state = %s, want %s", rec.State, wantState)
			}
			if (rec.NextAttemptAt == nil) != (tc.wantNext == nil) || (tc.wantNext != nil && !rec.NextAttemptAt.Equal(tc.wantNext)) {
				t.Errorf("next attempt = %v, want %v", rec.NextAttemptAt, tc.wantNext)
			}
		})
	}
}

func TestDeliveredClearsTheFailure(t *testing.T) {
	rec := record("a", securityv1alpha1.DeliveryFailed, at(time.Minute))
	rec.Attempts, rec.LastError = 2, "503"
	Delivered(&rec.DeliveryAttempt, t0.Add(1500*time.Millisecond))
	if rec.State != securityv1alpha1.DeliveryDelivered || rec.Attempts != 3 || rec.LastError != "" || rec.NextAttemptAt != nil || !rec.DeliveredAt.Equal(at(time.Second)) {
		t.Errorf("record = %+v", rec)
	}
}

func TestFallback(t *testing.T) {
	abandoned := record("a", securityv1alpha1.DeliveryAbandoned, nil)
	tests := map[string]struct {
		policy   *securityv1alpha1.EscalationPolicy
		rec      securityv1alpha1.NotificationRecord
		existing bool
		want     string // receiver owed, or ""
	}{
		"abandoned, with a fallback": {policy: policyWith(&securityv1alpha1.Delivery{FallbackReceiver: "mailbox"}), rec: abandoned, want: "mailbox"},
		"no fallback named":          {policy: policyWith(nil), rec: abandoned},
		"policy gone":                {rec: abandoned},
		"still being retried":        {policy: policyWith(&securityv1alpha1.Delivery{FallbackReceiver: "mailbox"}), rec: record("a", securityv1alpha1.DeliveryFailed, at(time.Minute))},
		"the fallback itself failed": {policy: policyWith(&securityv1alpha1.Delivery{FallbackReceiver: "mailbox"}), rec: func() securityv1alpha1.NotificationRecord {
			r := abandoned
			r.FallbackFor = "x"
			return r
		}()},
		"a receiver is not its own fallback": {policy: policyWith(&securityv1alpha1.Delivery{FallbackReceiver: "hook-a"}), rec: abandoned},
		"already owed":                       {policy: policyWith(&securityv1alpha1.Delivery{FallbackReceiver: "mailbox"}), rec: abandoned, existing: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			incident := &securityv1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{UID: "uid-1"}}
			incident.Status.Notifications = []securityv1alpha1.NotificationRecord{tc.rec}
			if tc.existing {
				incident.Status.Notifications = append(incident.Status.Notifications, *Fallback(incident, tc.policy, &tc.rec))
			}
			got := Fallback(incident, tc.policy, &tc.rec)
			if tc.want == "" {
				if got != nil {
					t.Fatalf("owed %+v, want nothing", got)
				}
				return
			}
			if got == nil || got.Receiver != tc.want || got.FallbackFor != tc.rec.Key || got.State != securityv1alpha1.DeliveryPending || got.Channel != ChannelEmail {
				t.Fatalf("owed %+v, want a pending e-mail to %s for %s", got, tc.want, tc.rec.Key)
			}
			if again := Fallback(incident, tc.policy, &tc.rec); again.Key != got.Key {
				t.Errorf("the fallback's key changes: %s then %s", got.Key, again.Key)
			}
		})
	}
}

func TestSummarise(t *testing.T) {
	failed := record("b", securityv1alpha1.DeliveryFailed, at(time.Minute))
	failed.Attempts, failed.LastError = 2, "receiver answered 503"
	abandoned := record("c", securityv1alpha1.DeliveryAbandoned, nil)
	abandoned.Attempts, abandoned.LastError = 10, "receiver answered 404"
	delivered := record("a", securityv1alpha1.DeliveryDelivered, nil)
	pending := record("d", securityv1alpha1.DeliveryPending, nil)
	tests := map[string]struct {
		records      []securityv1alpha1.NotificationRecord
		wantReason   string
		wantProgress Progress
		wantMessage  string
	}{
		"nothing owed":  {wantReason: securityv1alpha1.ReasonDelivered, wantProgress: Done, wantMessage: "0 of 0 notifications delivered"},
		"all delivered": {records: []securityv1alpha1.NotificationRecord{delivered}, wantReason: securityv1alpha1.ReasonDelivered, wantProgress: Done, wantMessage: "1 of 1 notifications delivered"},
		"one pending":   {records: []securityv1alpha1.NotificationRecord{delivered, pending}, wantReason: securityv1alpha1.ReasonDelivering, wantProgress: Working, wantMessage: "1 of 2 notifications delivered"},
		"one failing, named": {records: []securityv1alpha1.NotificationRecord{delivered, failed, abandoned}, wantReason: securityv1alpha1.ReasonNotificationFailed, wantProgress: Working,
			wantMessage: "1 of 3 notifications delivered; receiver hook-b of policy desk failed 2 times, last: receiver answered 503"},
		"given up, nothing left": {records: []securityv1alpha1.NotificationRecord{delivered, abandoned}, wantReason: securityv1alpha1.ReasonNotificationAbandoned, wantProgress: GaveUp,
			wantMessage: "1 of 2 notifications delivered; gave up on receiver hook-c of policy desk after 10 attempts, last: receiver answered 404"},
		"given up, a fallback still pending": {records: []securityv1alpha1.NotificationRecord{abandoned, pending}, wantReason: securityv1alpha1.ReasonDelivering, wantProgress: Working, wantMessage: "0 of 2 notifications delivered"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Summarise(tc.records)
			if got.Reason != tc.wantReason || got.Progress != tc.wantProgress || got.Message != tc.wantMessage {
				t.Errorf("Summarise = %+v, want %s %v %q", got, tc.wantReason, tc.wantProgress, tc.wantMessage)
			}
			if wantStatus := metav1.ConditionFalse; tc.wantProgress == Done && got.Status != metav1.ConditionTrue || tc.wantProgress != Done && got.Status != wantStatus {
				t.Errorf("status = %s", got.Status)
			}
		})
	}
}

func TestChannelAndMaxAttempts(t *testing.T) {
	policy := policyWith(&securityv1alpha1.Delivery{MaxAttempts: 4})
	for name, want := range map[string]string{"hook-a": ChannelWebhook, "mailbox": ChannelEmail, "nobody": ChannelUnknown} {
		if got := ChannelOf(policy, name); got != want {
			t.Errorf("ChannelOf(%s) = %s, want %s", name, got, want)
		}
	}
	if ChannelOf(nil, "hook-a") != ChannelUnknown {
		t.Error("a policy that is gone has no channels")
	}
	if MaxAttempts(policy) != 4 || MaxAttempts(policyWith(nil)) != securityv1alpha1.DefaultMaxAttempts || MaxAttempts(nil) != securityv1alpha1.DefaultMaxAttempts {
		t.Error("MaxAttempts does not take the policy's limit, or the default")
	}
}
