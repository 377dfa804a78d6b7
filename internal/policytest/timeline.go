package policytest

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Timeline is who is told what and when, and what people did, as a
// reviewer reads it in a pull request: one line an event, in time order,
// wall-clock and counted from the report. It holds nothing that changes
// from one run to the next.
func (r *Run) Timeline() string {
	var b strings.Builder
	reported := r.Case.ReportedAt.Time.UTC()
	fmt.Fprintf(&b, "# %s\n", r.Case.Name)
	fmt.Fprintf(&b, "reported %s (%s)\n", reported.Format("2006-01-02T15:04:05Z"), reported.Weekday().String()[:3])
	fmt.Fprintf(&b, "routed to %s\n", list(r.Policies))
	type line struct {
		at   time.Time
		text string
	}
	var lines []line
	for _, t := range r.Told {
		who := t.Receiver
		if t.Role != "" {
			who = "role " + string(t.Role)
			if t.Recipient != "" {
				who += " <" + t.Recipient + ">"
			}
			if t.StandsInFor != "" {
				who += " standing in for " + t.StandsInFor
			}
		}
		lines = append(lines, line{t.At, fmt.Sprintf("%s level %d %s -> %s (%s)", t.Policy, t.Level, t.notice(), who, t.Channel)})
	}
	for _, e := range r.Events {
		lines = append(lines, line{e.At, e.What})
	}
	slices.SortStableFunc(lines, func(a, b line) int { return a.at.Compare(b.at) })
	for _, l := range lines {
		fmt.Fprintf(&b, "%-8s %s %s  %s\n", "+"+since(reported, l.at), l.at.UTC().Format("2006-01-02 15:04"), l.at.UTC().Weekday().String()[:3], l.text)
	}
	st := &r.Incident.Status
	if s := st.SLA; s != nil {
		fmt.Fprintf(&b, "SLA of %s (%s hours):", s.Policy, s.Hours)
		if s.AcknowledgeBy != nil {
			fmt.Fprintf(&b, " acknowledge by %s", stamp(s.AcknowledgeBy.Time, reported))
		}
		if s.ResolveBy != nil {
			fmt.Fprintf(&b, " resolve by %s", stamp(s.ResolveBy.Time, reported))
		}
		b.WriteString("\n")
	}
	if d := st.AuthorityNotificationDeadline; d != nil {
		fmt.Fprintf(&b, "authority to be told by %s\n", stamp(d.Time, reported))
	}
	return b.String()
}
