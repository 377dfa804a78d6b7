package policytest

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/incidentops/incident-operator/internal/routing"
)

// Differences are what the run did not do as the case expects, one line
// each; none when the case passes.
func (r *Run) Differences() []string {
	var out []string
	expect := &r.Case.Expect
	reported := r.Case.ReportedAt.Time
	if expect.Policies != nil && !slices.Equal(expect.Policies, r.Policies) {
		out = append(out, fmt.Sprintf("policies: want %s, routed to %s", list(expect.Policies), list(r.Policies)))
		for _, name := range expect.Policies {
			if !slices.Contains(r.Policies, name) {
				out = append(out, "  "+r.why(name))
			}
		}
	}
	for i, want := range expect.Notified {
		if !slices.ContainsFunc(r.Told, func(t Told) bool { return matches(&want, t, reported) }) {
			out = append(out, fmt.Sprintf("notified[%d]: want %s; %s", i, describe(&want, reported), r.closest(want)))
		}
	}
	for i, not := range expect.NotNotified {
		for _, t := range r.Told {
			if matches(&not, t, reported) {
				out = append(out, fmt.Sprintf("notNotified[%d]: want nobody told %s, but %s", i, describe(&not, reported), t.describe(reported)))
			}
		}
	}
	st := &r.Incident.Status
	if want := expect.SLA; want != nil {
		switch {
		case st.SLA == nil:
			out = append(out, "sla: want a service-level target, none applies")
		default:
			if want.Policy != "" && want.Policy != st.SLA.Policy {
				out = append(out, fmt.Sprintf("sla.policy: want %s, the target is %s's", want.Policy, st.SLA.Policy))
			}
			out = appendTime(out, "sla.acknowledgeBy", want.AcknowledgeBy, st.SLA.AcknowledgeBy, reported)
			out = appendTime(out, "sla.resolveBy", want.ResolveBy, st.SLA.ResolveBy, reported)
		}
	}
	out = appendTime(out, "authorityDeadline", expect.AuthorityDeadline, st.AuthorityNotificationDeadline, reported)
	for _, want := range expect.Conditions {
		got := meta.FindStatusCondition(st.Conditions, want.Type)
		switch {
		case got == nil:
			out = append(out, fmt.Sprintf("conditions: want %s=%s, the incident has no %s condition", want.Type, want.Status, want.Type))
		case got.Status != want.Status || (want.Reason != "" && got.Reason != want.Reason):
			out = append(out, fmt.Sprintf("conditions: want %s=%s%s, got %s=%s (%s: %s)", want.Type, want.Status, reasonText(want.Reason),
				got.Type, got.Status, got.Reason, got.Message))
		}
	}
	return out
}

func reasonText(reason string) string {
	if reason == "" {
		return ""
	}
	return " (" + reason + ")"
}

func appendTime(out []string, field string, want, got *metav1.Time, reported time.Time) []string {
	switch {
	case want == nil:
	case got == nil:
		out = append(out, fmt.Sprintf("%s: want %s, none is set", field, stamp(want.Time, reported)))
	case !got.Time.Equal(want.Time):
		out = append(out, fmt.Sprintf("%s: want %s, got %s", field, stamp(want.Time, reported), stamp(got.Time, reported)))
	}
	return out
}

// matches is true when t has every field d sets.
func matches(d *Delivery, t Told, reported time.Time) bool {
	notice := d.Notice
	switch {
	case d.Policy != "" && d.Policy != t.Policy,
		d.Level != nil && *d.Level != t.Level,
		d.Receiver != "" && d.Receiver != t.Receiver,
		d.Role != "" && d.Role != t.Role,
		d.Recipient != "" && d.Recipient != t.Recipient,
		notice != "" && notice != t.notice(),
		d.At != nil && !d.At.Time.Truncate(time.Second).Equal(t.At),
		d.After != nil && !reported.Add(d.After.Duration).Truncate(time.Second).Equal(t.At):
		return false
	}
	return true
}

// NoticeAlert is what a case calls a level's own alert, which records
// keep without a notice.
const NoticeAlert = "Alert"

func (t Told) notice() string {
	if t.Notice == "" {
		return NoticeAlert
	}
	return t.Notice
}

// closest says who was told that the expected delivery could have meant:
// the same receiver or role, else everything told.
func (r *Run) closest(want Delivery) string {
	var near []string
	for _, t := range r.Told {
		if (want.Receiver != "" && t.Receiver == want.Receiver) || (want.Role != "" && t.Role == want.Role) ||
			(want.Receiver == "" && want.Role == "" && (want.Policy == "" || t.Policy == want.Policy)) {
			near = append(near, t.describe(r.Case.ReportedAt.Time))
		}
	}
	if len(near) == 0 {
		if len(r.Told) == 0 {
			return "nobody was told"
		}
		return fmt.Sprintf("not told at all (%d other deliveries)", len(r.Told))
	}
	return "told: " + strings.Join(near, "; ")
}

func describe(d *Delivery, reported time.Time) string {
	var parts []string
	if d.Receiver != "" {
		parts = append(parts, d.Receiver)
	}
	if d.Role != "" {
		parts = append(parts, "role "+string(d.Role))
	}
	if d.Recipient != "" {
		parts = append(parts, "<"+d.Recipient+">")
	}
	if d.Policy != "" {
		parts = append(parts, "of "+d.Policy)
	}
	if d.Level != nil {
		parts = append(parts, fmt.Sprintf("level %d", *d.Level))
	}
	if d.Notice != "" {
		parts = append(parts, d.Notice)
	}
	switch {
	case d.At != nil:
		parts = append(parts, "at "+stamp(d.At.Time, reported))
	case d.After != nil:
		parts = append(parts, "at "+stamp(reported.Add(d.After.Duration), reported))
	}
	if len(parts) == 0 {
		return "anyone"
	}
	return strings.Join(parts, " ")
}

func (t Told) describe(reported time.Time) string {
	who := t.Receiver
	if t.Role != "" {
		who = "role " + string(t.Role)
		if t.Recipient != "" {
			who += " <" + t.Recipient + ">"
		}
	}
	return fmt.Sprintf("%s of %s level %d %s at %s", who, t.Policy, t.Level, t.notice(), stamp(t.At, reported))
}

// stamp writes a time as the case's reader counts it: wall-clock, and
// after the report.
func stamp(t, reported time.Time) string {
	return fmt.Sprintf("%s (+%s)", t.UTC().Format("2006-01-02T15:04:05Z"), since(reported, t))
}

// since writes how long after the report: 3d4h, 2h30m, 45s, 0s.
func since(reported, t time.Time) string {
	d := t.Sub(reported).Round(time.Second)
	if d < 0 {
		return "-" + since(t, reported)
	}
	var b strings.Builder
	for _, unit := range []struct {
		size time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / unit.size; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, unit.name)
			d -= n * unit.size
		}
	}
	if b.Len() == 0 {
		return "0s"
	}
	return b.String()
}

func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return "[" + strings.Join(names, ", ") + "]"
}

// why says why the policy named did not route the incident: which policy
// stopped first, or which clause did not hold.
func (r *Run) why(name string) string {
	i := slices.IndexFunc(r.Explained, func(e routing.Explanation) bool { return e.Name == name })
	if i < 0 {
		return name + ": no such policy may route this namespace's incidents (not in the files, left out, or not selecting the namespace)"
	}
	e := r.Explained[i]
	for _, c := range e.Clauses {
		if !c.Held {
			return fmt.Sprintf("%s: %s; spec.match.%s wants %s, the incident has %s", name, e.Verdict(), c.Field, c.Want, c.Got)
		}
	}
	return name + ": " + e.Verdict()
}
