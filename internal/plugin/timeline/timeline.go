// Package timeline merges what is known of an incident's life into one
// list in time order: the entries of its audit trail, each delivery of a
// notification, and each change of a condition. It is pure: the stored
// trail and status go in.
package timeline

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/printable"
)

// Source is where an event comes from.
type Source string

const (
	// Audit is an entry of the audit trail.
	Audit Source = "audit"
	// Delivery is a notification's latest outcome, from status.notifications.
	Delivery Source = "delivery"
	// Condition is a condition's last transition, from status.conditions.
	Condition Source = "condition"
)

// Event is one thing that happened to the incident.
type Event struct {
	At     time.Time `json:"at"`
	Source Source    `json:"source"`
	// Sequence is the audit entry's number; -1 for other sources.
	Sequence int64 `json:"sequence"`
	// Actor is who did it: an account, "operator", or empty.
	Actor string `json:"actor,omitempty"`
	// What happened: the audit action, the delivery's state, or the
	// condition as Type=Status.
	What string `json:"what"`
	// Details say the rest, one line.
	Details string `json:"details,omitempty"`
}

// Merge puts the events of the three sources in time order (see
// orderTime). Events at the same instant keep the order audit, delivery,
// condition, and audit entries their sequence.
func Merge(entries []securityv1alpha1.AuditEntry, notifications []securityv1alpha1.NotificationRecord, conditions []metav1.Condition) []Event {
	var events []Event
	audit := slices.Clone(entries)
	slices.SortFunc(audit, func(a, b securityv1alpha1.AuditEntry) int { return cmp.Compare(a.Sequence, b.Sequence) })
	for _, e := range audit {
		events = append(events, Event{At: e.Time.Time, Source: Audit, Sequence: e.Sequence, Actor: actor(e.Actor), What: string(e.Action), Details: details(e.Details)})
	}
	for _, n := range notifications {
		if ev, ok := delivery(n); ok {
			events = append(events, ev)
		}
	}
	for _, c := range conditions {
		if c.LastTransitionTime.IsZero() {
			continue
		}
		what := fmt.Sprintf("%s=%s", c.Type, c.Status)
		text := c.Reason
		if c.Message != "" {
			text += ": " + c.Message
		}
		events = append(events, Event{At: c.LastTransitionTime.Time, Source: Condition, Sequence: -1, What: what, Details: text})
	}
	slices.SortStableFunc(events, func(a, b Event) int { return orderTime(a).Compare(orderTime(b)) })
	return events
}

// orderTime is when an event is placed. Deliveries and conditions are
// stored to the second, so one stamped 09:00:01 happened at some time in
// that second: it is placed at the second's end, after the trail's
// entries of that second, which are stored to the microsecond. Otherwise a
// delivery would be shown before the report that caused it.
func orderTime(e Event) time.Time {
	if e.Source == Audit {
		return e.At
	}
	return e.At.Truncate(time.Second).Add(time.Second - time.Nanosecond)
}

func actor(a securityv1alpha1.AuditActor) string {
	switch {
	case a.Operator:
		return "operator"
	case a.Username == "":
		return "unknown"
	}
	return a.Username
}

// details are the entry's details as key=value, keys in order.
func details(d map[string]string) string {
	parts := make([]string, 0, len(d))
	for _, k := range slices.Sorted(maps.Keys(d)) {
		parts = append(parts, k+"="+oneLine(d[k]))
	}
	return strings.Join(parts, " ")
}

// oneLine is a detail's value on one line, as internal/printable shows
// text, and quoted when it has a space or a quote, so that each key=value
// stands apart.
func oneLine(s string) string {
	s = printable.Text(s)
	if strings.ContainsAny(s, " \"") {
		return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
	}
	return s
}

// delivery is a notification's outcome as an event: when it was
// delivered, or its last attempt. A notification not yet tried has no
// time and is left out.
func delivery(n securityv1alpha1.NotificationRecord) (Event, bool) {
	var at *metav1.Time
	switch {
	case n.DeliveredAt != nil:
		at = n.DeliveredAt
	case n.LastAttemptAt != nil:
		at = n.LastAttemptAt
	default:
		return Event{}, false
	}
	to := n.Receiver
	if n.Role != "" {
		to = fmt.Sprintf("%s <%s>", n.Role, n.Recipient)
	}
	parts := []string{fmt.Sprintf("to %s by %s", to, n.Channel), fmt.Sprintf("policy=%s level=%d", n.Policy, n.Level)}
	if n.Notice != "" {
		parts = append(parts, "notice="+n.Notice)
	}
	if n.State != securityv1alpha1.DeliveryDelivered {
		parts = append(parts, fmt.Sprintf("attempts=%d", n.Attempts))
		if n.LastError != "" {
			parts = append(parts, "error="+oneLine(n.LastError))
		}
	}
	return Event{At: at.Time, Source: Delivery, Sequence: -1, What: string(n.State), Details: strings.Join(parts, " ")}, true
}

// How Write shows a time, with the zone's abbreviation so that a reader
// sees which zone the times are in: an audit entry's to the millisecond,
// a delivery's or a condition's to the second it was stored to, aligned
// with the others.
const (
	TimeLayout   = "2006-01-02 15:04:05.000 MST"
	SecondLayout = "2006-01-02 15:04:05     MST"
)

// Write prints events as a table with times in loc; what people wrote is
// shown as text (see internal/printable), never sent to the terminal as
// it is.
func Write(w io.Writer, events []Event, loc *time.Location) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tSOURCE\tWHO\tWHAT\tDETAILS")
	for _, e := range events {
		source := string(e.Source)
		if e.Source == Audit {
			source = fmt.Sprintf("audit #%d", e.Sequence)
		}
		layout := SecondLayout
		if e.Source == Audit {
			layout = TimeLayout
		}
		printable.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.At.In(loc).Format(layout), source, e.Actor, e.What, e.Details)
	}
	return tw.Flush()
}
