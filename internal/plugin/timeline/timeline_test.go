package timeline

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

var base = time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)

func entry(seq int64, after time.Duration, action securityv1alpha1.AuditAction, actor securityv1alpha1.AuditActor, details map[string]string) securityv1alpha1.AuditEntry {
	return securityv1alpha1.AuditEntry{Sequence: seq, Time: metav1.NewMicroTime(base.Add(after)), Action: action, Actor: actor, Details: details}
}

func mt(after time.Duration) *metav1.Time { t := metav1.NewTime(base.Add(after)); return &t }

func TestMergeOrder(t *testing.T) {
	operator := securityv1alpha1.AuditActor{Operator: true}
	rob := securityv1alpha1.AuditActor{Username: "rob"}
	entries := []securityv1alpha1.AuditEntry{
		// Given out of order: merged by sequence and time.
		entry(2, 2*time.Second, securityv1alpha1.AuditNotified, operator, map[string]string{"receiver": "desk"}),
		entry(0, 0, securityv1alpha1.AuditReported, rob, map[string]string{"title": "Phishing mail", "severity": "High"}),
		entry(1, 1500*time.Millisecond, securityv1alpha1.AuditRouted, operator, nil),
		entry(3, time.Minute, securityv1alpha1.AuditAcknowledged, securityv1alpha1.AuditActor{Username: "rita"}, nil),
	}
	notifications := []securityv1alpha1.NotificationRecord{
		{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{Key: "a", Receiver: "desk", Channel: "webhook", State: securityv1alpha1.DeliveryDelivered, DeliveredAt: mt(2 * time.Second), LastAttemptAt: mt(2 * time.Second)}, Policy: "desk"},
		{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{Key: "b", Channel: "email", State: securityv1alpha1.DeliveryFailed, Attempts: 2, LastAttemptAt: mt(30 * time.Second), LastError: "connection refused"}, Policy: "desk", Level: 1, Role: securityv1alpha1.RoleLineManager, Recipient: "tom@example.org"},
		// Not tried yet: no time, not shown.
		{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{Key: "c", Receiver: "audit", Channel: "webhook", State: securityv1alpha1.DeliveryPending}, Policy: "desk"},
	}
	conditions := []metav1.Condition{
		{Type: "Acknowledged", Status: metav1.ConditionTrue, Reason: "Later", LastTransitionTime: *mt(2 * time.Minute)},
		{Type: "Routed", Status: metav1.ConditionTrue, Reason: "Matched", Message: "desk", LastTransitionTime: *mt(time.Second)},
	}
	events := Merge(entries, notifications, conditions)
	var got []string
	for _, e := range events {
		got = append(got, fmt.Sprintf("%s %s %s", e.At.Sub(base), e.Source, e.What))
	}
	want := []string{
		"0s audit Reported",
		// Stamped 1s, stored to the second: it happened in [1s, 2s), so
		// after the entry at 1.5s.
		"1.5s audit Routed",
		"1s condition Routed=True",
		"2s audit Notified",
		"2s delivery Delivered",
		"30s delivery Failed",
		"1m0s audit Acknowledged",
		"2m0s condition Acknowledged=True",
	}
	if !slices.Equal(got, want) {
		t.Errorf("events\n got %q\nwant %q", got, want)
	}
	if events[0].Actor != "rob" || events[1].Actor != "operator" {
		t.Errorf("actors %q, %q; want rob, operator", events[0].Actor, events[1].Actor)
	}
	if events[0].Details != `severity=High title="Phishing mail"` {
		t.Errorf("details %q", events[0].Details)
	}
	if d := events[5].Details; d != `to LineManager <tom@example.org> by email policy=desk level=1 attempts=2 error="connection refused"` {
		t.Errorf("failed delivery details %q", d)
	}
}

func TestWriteInTheReadersZone(t *testing.T) {
	events := Merge([]securityv1alpha1.AuditEntry{entry(0, 250*time.Millisecond, securityv1alpha1.AuditReported, securityv1alpha1.AuditActor{Username: "rob"}, nil)}, nil,
		[]metav1.Condition{{Type: "Routed", Status: metav1.ConditionTrue, Reason: "Matched", LastTransitionTime: *mt(0)}})
	tests := map[string]struct {
		zone string
		want string
	}{
		"UTC":                {"UTC", "2026-07-01 09:00:00.250 UTC"},
		"London in summer":   {"Europe/London", "2026-07-01 10:00:00.250 BST"},
		"New York in summer": {"America/New_York", "2026-07-01 05:00:00.250 EDT"},
		"Kolkata":            {"Asia/Kolkata", "2026-07-01 14:30:00.250 IST"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			loc, err := time.LoadLocation(tc.zone)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := Write(&b, events, loc); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(b.String()), "\n")
			if len(lines) != 3 || !strings.HasPrefix(lines[1], tc.want) {
				t.Errorf("output\n%s\nwant a row starting %q", b.String(), tc.want)
			}
			// The condition, stored to the second, is shown to the second,
			// after the entry in that second.
			second := tc.want[:19] + "     " + tc.want[len(tc.want)-3:]
			if len(lines) == 3 && !strings.HasPrefix(lines[2], second+"  condition") {
				t.Errorf("condition row %q, want it to start %q", lines[2], second)
			}
			if !strings.Contains(lines[1], "audit #0") || !strings.Contains(lines[1], "rob") {
				t.Errorf("row %q lacks the source or actor", lines[1])
			}
		})
	}
}

// What people and receivers wrote is shown as text: no escape sequence,
// bell or bidi override reaches the terminal, and each event stays on its
// line.
func TestWriteShowsControlCharactersAsText(t *testing.T) {
	const hostile = "\x1b]8;;http://evil\x07click\x1b]8;;\x07 \u202eevil"
	const shown = `\x1b]8;;http://evil\x07click\x1b]8;;\x07 \u202eevil`
	entries := []securityv1alpha1.AuditEntry{
		entry(0, 0, securityv1alpha1.AuditReported, securityv1alpha1.AuditActor{Username: hostile}, map[string]string{"title": hostile, "note": "\u202enospace", "quote": `say "hi"`, "lines": "a\nb"}),
	}
	notifications := []securityv1alpha1.NotificationRecord{
		{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{Key: "a", Receiver: "desk", Channel: "webhook", State: securityv1alpha1.DeliveryFailed, Attempts: 1, LastAttemptAt: mt(time.Second), LastError: hostile}, Policy: "desk"},
	}
	conditions := []metav1.Condition{{Type: "Routed", Status: metav1.ConditionTrue, Reason: "Matched", Message: hostile + "\nmore", LastTransitionTime: *mt(time.Second)}}
	events := Merge(entries, notifications, conditions)
	if want := `lines=a\nb note=\u202enospace quote="say \"hi\"" title="` + shown + `"`; events[0].Details != want {
		t.Errorf("details %s, want %s", events[0].Details, want)
	}
	var b bytes.Buffer
	if err := Write(&b, events, time.UTC); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, raw := range []string{"\x1b", "\x07", "\u202e"} {
		if strings.Contains(out, raw) {
			t.Errorf("%q printed as it is:\n%q", raw, out)
		}
	}
	if lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); len(lines) != 4 {
		t.Errorf("%d lines, want a header and 3 events: %q", len(lines), out)
	}
	for _, want := range []string{"audit #0   " + shown, `error="` + shown + `"`, "Matched: " + shown + `\nmore`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s: %q", want, out)
		}
	}
}
