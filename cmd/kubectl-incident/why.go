package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/plugin/triage"
	"github.com/incidentops/incident-operator/internal/policycheck"
	"github.com/incidentops/incident-operator/internal/printable"
	"github.com/incidentops/incident-operator/internal/routing"
	"github.com/incidentops/incident-operator/internal/routing/gather"
)

func newWhyCommand(o *options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "why NAME",
		Short: "Which policies matched an incident and why, who was told, and what happens next",
		Long: `Which policies routed the incident (pinned at the generation that routed it),
each policy of the namespace judged now clause by clause with the operator's
own routing (the clauses that held and those that did not), who was told at
each level and how the delivery went, and what happens next and when.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeIncidents(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, inc, err := o.incident(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			in, err := gather.ForIncident(cmd.Context(), c, inc)
			return writeWhy(o.streams.Out, inc, in, err, o.now())
		},
	}
	return cmd
}

// policyOf is the policy a reference names as it is now, or nil when it
// is gone or could not be read.
func policyOf(in *gather.Incident, ref securityv1alpha1.PolicyReference) *securityv1alpha1.EscalationPolicy {
	if in == nil {
		return nil
	}
	return in.Policy(ref)
}

func writeWhy(w io.Writer, inc *securityv1alpha1.Incident, in *gather.Incident, listErr error, now time.Time) error {
	spec, st := &inc.Spec, &inc.Status
	phase := st.Phase
	if phase == "" {
		phase = securityv1alpha1.PhasePending
	}
	printable.Fprintf(w, "Incident %s/%s: \"%s\"\n  %s %s %s, phase %s, escalation level %d\n", inc.Namespace, inc.Name, spec.Title,
		spec.Severity, spec.Category, inc.IncidentType(), phase, st.EscalationLevel)

	fmt.Fprintln(w, "\nPolicies that routed it:")
	if len(st.Policies) == 0 {
		fmt.Fprintln(w, "  none yet")
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  KIND\tNAME\tGENERATION\tJOINED\tLEVEL\tLEVEL REACHED")
		for _, p := range st.Policies {
			joined := "when routed"
			if p.JoinedAt != nil {
				joined = "later, at " + p.JoinedAt.Format(time.RFC3339)
			}
			reached := "-"
			if p.LevelReachedAt != nil {
				reached = p.LevelReachedAt.Format(time.RFC3339)
			}
			printable.Fprintf(tw, "  %s\t%s\t%d\t%s\t%d\t%s\n", p.KindOrDefault(), p.Name, p.Generation, joined, p.Level, reached)
		}
		_ = tw.Flush()
		for _, p := range st.Policies {
			if now := policyOf(in, p); now != nil && now.Generation != p.Generation {
				printable.Fprintf(w, "  %s is now at generation %d; the incident keeps generation %d, which routed it\n", p.Name, now.Generation, p.Generation)
			}
		}
	}

	fmt.Fprintln(w, "\nEach policy of the namespace, and each cluster policy that applies to it, judged now in routing order:")
	if listErr != nil {
		printable.Fprintf(w, "  cannot read the policies: %s\n", describe(listErr))
	} else {
		for _, err := range in.Unread {
			printable.Fprintf(w, "  %s; the policies above name those that routed it\n", describe(err))
		}
		writeClauses(w, inc, in)
	}

	fmt.Fprintln(w, "\nWho was told:")
	if len(st.Notifications) == 0 {
		fmt.Fprintln(w, "  nobody yet")
	} else {
		records := slices.Clone(st.Notifications)
		slices.SortStableFunc(records, func(a, b securityv1alpha1.NotificationRecord) int {
			if c := strings.Compare(a.Policy, b.Policy); c != 0 {
				return c
			}
			return int(a.Level - b.Level)
		})
		_ = writeNotifications(w, records, "  ")
	}

	fmt.Fprintln(w, "\nWhat happens next:")
	writeNext(w, inc, in, now)
	return nil
}

// writeClauses judges every policy with the operator's routing, clause by
// clause.
func writeClauses(w io.Writer, inc *securityv1alpha1.Incident, in *gather.Incident) {
	candidates := in.Candidates
	for _, e := range candidates.Excluded {
		printable.Fprintf(w, "  %s %s: left out: %s\n", e.Kind, e.Name, e.Reason)
	}
	if len(candidates.Namespaced)+len(candidates.Cluster) == 0 {
		fmt.Fprintln(w, "  no EscalationPolicy in this namespace, nor ClusterEscalationPolicy for it: nothing can route the incident")
		return
	}
	// A policy its operator judged unusable is left out of routing, as
	// its Ready condition says; a protected one routes all the same unless
	// its own spec cannot work.
	cache := routing.NewExpressionCache()
	var prepared []routing.Policy
	for _, p := range candidates.Cluster {
		if reason := policycheck.LeftOutOfRouting(p.AsEscalationPolicy(), p.Spec.Protected); reason != "" {
			printable.Fprintf(w, "  ClusterEscalationPolicy %s: left out: not Ready: %s\n", p.Name, reason)
			continue
		}
		prepared = append(prepared, routing.PrepareCluster(p, cache))
	}
	for _, p := range candidates.Namespaced {
		if reason := policycheck.LeftOutOfRouting(p, false); reason != "" {
			printable.Fprintf(w, "  EscalationPolicy %s: left out: not Ready: %s\n", p.Name, reason)
			continue
		}
		prepared = append(prepared, routing.Prepare(p, cache))
	}
	if len(prepared) == 0 {
		fmt.Fprintln(w, "  no policy that may route: nothing can route the incident")
		return
	}
	for _, p := range routing.Explain(inc, in.Assets, prepared) {
		flow := ""
		if p.Continue {
			flow = ", continue"
		}
		if p.Protected {
			flow += ", protected"
		}
		name := p.Name
		if p.Kind == securityv1alpha1.KindClusterEscalationPolicy {
			name = "ClusterEscalationPolicy " + name
		}
		verdict := p.Verdict()
		if p.MatchedAsset != "" {
			verdict += " (on asset " + p.MatchedAsset + ")"
		}
		printable.Fprintf(w, "  %s (priority %d%s): %s\n", name, p.Priority, flow, verdict)
		if p.Invalid == nil && len(p.Clauses) == 0 {
			fmt.Fprintln(w, "    no match clauses: matches every incident")
		}
		for _, c := range p.Clauses {
			printable.Fprintf(w, "    %-9s %s\n", heldWord(c), clauseText(c))
		}
	}
}

func heldWord(c routing.Clause) string {
	switch {
	case c.Err != nil:
		return "error"
	case c.Held:
		return "held"
	}
	return "not held"
}

func clauseText(c routing.Clause) string {
	switch {
	case c.Field == "expression":
		return fmt.Sprintf("expression %s: %s", c.Want, c.Got)
	case c.Field == "selector":
		return fmt.Sprintf("selector %s: the incident has %s", c.Want, c.Got)
	case c.Field == "assets":
		return fmt.Sprintf("assets: wants %s; the incident names %s", c.Want, c.Got)
	case strings.HasPrefix(c.Field, "impact."):
		return fmt.Sprintf("%s: wants %s, the incident has %s", c.Field, c.Want, c.Got)
	case c.Held:
		return fmt.Sprintf("%s: %s is one of %s", c.Field, c.Got, c.Want)
	}
	return fmt.Sprintf("%s: %s is not one of %s", c.Field, c.Got, c.Want)
}

// writeNext says what the operator will do and when: each policy's next
// escalation, the SLA deadlines and the authority deadline.
func writeNext(w io.Writer, inc *securityv1alpha1.Incident, in *gather.Incident, now time.Time) {
	st := &inc.Status
	at := func(t time.Time) string { return fmt.Sprintf("%s (%s)", t.Format(time.RFC3339), triage.Until(t, now)) }
	switch {
	case triage.Resolved(inc):
		fmt.Fprintln(w, "  escalation: stopped, the incident is resolved")
	case triage.Acknowledged(inc):
		fmt.Fprintln(w, "  escalation: stopped, the incident is acknowledged")
	default:
		for _, p := range st.Policies {
			if p.NextEscalationAt == nil {
				printable.Fprintf(w, "  %s: no further escalation (the chain is exhausted)\n", p.Name)
				continue
			}
			printable.Fprintf(w, "  %s: the next level at %s unless acknowledged first%s\n", p.Name, at(p.NextEscalationAt.Time), nextTargets(policyOf(in, p), p.Level))
		}
	}
	if s := st.SLA; s != nil {
		for _, target := range []struct {
			name string
			at   time.Time
			done bool
		}{
			{"acknowledge by", timeOf(s.AcknowledgeBy), triage.Acknowledged(inc) || triage.Resolved(inc)},
			{"resolve by", timeOf(s.ResolveBy), triage.Resolved(inc)},
		} {
			if target.at.IsZero() {
				continue
			}
			state := at(target.at)
			switch {
			case target.done:
				state = target.at.Format(time.RFC3339) + ": done"
			case !target.at.After(now):
				state = "BREACHED: " + state
			}
			printable.Fprintf(w, "  SLA (%s, %s hours): %s %s\n", s.Policy, s.Hours, target.name, state)
		}
	} else {
		fmt.Fprintln(w, "  SLA: no target applies")
	}
	switch n := inc.Spec.AuthorityNotification; {
	case n != nil:
		printable.Fprintf(w, "  authority: told at %s, reference %s\n", n.NotifiedAt.Format(time.RFC3339), n.Reference)
	case triage.AwaitingAuthority(inc):
		deadline := inc.AuthorityDeadline()
		state := at(deadline)
		if !deadline.After(now) {
			state = "BREACHED: " + state
		}
		printable.Fprintf(w, "  authority: report the personal data breach by %s (kubectl incident notify-authority %s --reference REF)\n", state, inc.Name)
	default:
		fmt.Fprintln(w, "  authority: no report needed")
	}
}

func timeOf(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

// nextTargets says who the policy's next level tells, from the policy as
// it is now.
func nextTargets(p *securityv1alpha1.EscalationPolicy, level int32) string {
	if p == nil || len(p.Spec.Escalation.Levels) == 0 {
		return ""
	}
	next := int(level) + 1
	if next >= len(p.Spec.Escalation.Levels) {
		next = 0 // the chain repeats
	}
	var who []string
	for _, t := range p.Spec.Escalation.Levels[next].Notify {
		if t.Role != "" {
			who = append(who, "role "+string(t.Role))
		} else {
			who = append(who, t.Receiver)
		}
	}
	return fmt.Sprintf(": level %d tells %s", next, strings.Join(who, ", "))
}
