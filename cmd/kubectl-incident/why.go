package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/plugin/explain"
	"github.com/incidentops/incident-operator/internal/plugin/triage"
	"github.com/incidentops/incident-operator/internal/policycheck"
	"github.com/incidentops/incident-operator/internal/printable"
	"github.com/incidentops/incident-operator/internal/routing"
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
			policies, clusterErr, listErr := listPolicies(cmd.Context(), c, inc.Namespace)
			return writeWhy(o.streams.Out, inc, policies, clusterErr, listErr, o.now())
		},
	}
	return cmd
}

// listPolicies reads the policies that may route the namespace's
// incidents, as the operator picks them: the namespace's own and the
// cluster policies that select it. Someone allowed to read only the
// namespace cannot read cluster policies, or the namespace's labels that
// pick them: they get the namespace's policies and, in clusterErr, why
// the cluster's are missing.
func listPolicies(ctx context.Context, c client.Client, ns string) (policies policyView, clusterErr, err error) {
	var list securityv1alpha1.EscalationPolicyList
	if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return policyView{}, nil, err
	}
	var clusterList securityv1alpha1.ClusterEscalationPolicyList
	namespace := &metav1.PartialObjectMetadata{}
	namespace.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"})
	if err := c.List(ctx, &clusterList); err != nil {
		clusterErr = fmt.Errorf("cannot read ClusterEscalationPolicies: %w", err)
	}
	policies.routed = map[string]*securityv1alpha1.EscalationPolicy{}
	cluster := make([]*securityv1alpha1.ClusterEscalationPolicy, len(clusterList.Items))
	for i := range clusterList.Items {
		cluster[i] = &clusterList.Items[i]
		policies.routed[securityv1alpha1.KindClusterEscalationPolicy+"/"+cluster[i].Name] = cluster[i].AsEscalationPolicy()
	}
	own := make([]*securityv1alpha1.EscalationPolicy, len(list.Items))
	for i := range list.Items {
		own[i] = &list.Items[i]
		policies.routed[securityv1alpha1.KindEscalationPolicy+"/"+own[i].Name] = own[i]
	}
	var unjudged []*securityv1alpha1.ClusterEscalationPolicy
	if len(cluster) > 0 {
		if err := c.Get(ctx, client.ObjectKey{Name: ns}, namespace); err != nil {
			clusterErr = fmt.Errorf("cannot read namespace %s, whose labels pick the ClusterEscalationPolicies: %w", ns, err)
			cluster, unjudged = nil, cluster
		}
	}
	policies.candidates = routing.ForNamespace(namespace.Labels, cluster, own)
	// Without the namespace's labels, a namespace policy sharing a cluster
	// policy's name may be left out by the operator: say so rather than
	// judge it as if it routed.
	for _, cp := range unjudged {
		kept := policies.candidates.Namespaced[:0]
		for _, p := range policies.candidates.Namespaced {
			if p.Name != cp.Name {
				kept = append(kept, p)
				continue
			}
			policies.candidates.Excluded = append(policies.candidates.Excluded, routing.Excluded{
				Kind: securityv1alpha1.KindEscalationPolicy, Name: p.Name, Namespaced: p,
				Reason: fmt.Sprintf("may be left out: ClusterEscalationPolicy %s has the same name and may apply to this namespace", cp.Name),
			})
		}
		policies.candidates.Namespaced = kept
	}
	return policies, clusterErr, nil
}

// policyView is what why knows of the policies: those that may route the
// namespace's incidents now, and every policy it could read by kind and
// name, for the ones that routed the incident, which may no longer apply.
type policyView struct {
	candidates routing.Candidates
	routed     map[string]*securityv1alpha1.EscalationPolicy
}

// of is the policy a reference names, or nil when it is gone or cannot be
// read.
func (v policyView) of(ref securityv1alpha1.PolicyReference) *securityv1alpha1.EscalationPolicy {
	kind := ref.Kind
	if kind == "" {
		kind = securityv1alpha1.KindEscalationPolicy
	}
	return v.routed[kind+"/"+ref.Name]
}

func writeWhy(w io.Writer, inc *securityv1alpha1.Incident, policies policyView, clusterErr, listErr error, now time.Time) error {
	spec, st := &inc.Spec, &inc.Status
	phase := st.Phase
	if phase == "" {
		phase = securityv1alpha1.PhasePending
	}
	printable.Fprintf(w, "Incident %s/%s: \"%s\"\n  %s %s %s, phase %s, escalation level %d\n", inc.Namespace, inc.Name, spec.Title,
		spec.Severity, spec.Category, typeOf(spec), phase, st.EscalationLevel)

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
			kind := p.Kind
			if kind == "" {
				kind = securityv1alpha1.KindEscalationPolicy
			}
			printable.Fprintf(tw, "  %s\t%s\t%d\t%s\t%d\t%s\n", kind, p.Name, p.Generation, joined, p.Level, reached)
		}
		_ = tw.Flush()
		for _, p := range st.Policies {
			if now := policies.of(p); now != nil && now.Generation != p.Generation {
				printable.Fprintf(w, "  %s is now at generation %d; the incident keeps generation %d, which routed it\n", p.Name, now.Generation, p.Generation)
			}
		}
	}

	fmt.Fprintln(w, "\nEach policy of the namespace, and each cluster policy that applies to it, judged now in routing order:")
	if listErr != nil {
		printable.Fprintf(w, "  cannot read the policies: %s\n", describe(listErr))
	} else {
		if clusterErr != nil {
			printable.Fprintf(w, "  %s; the policies above name those that routed it\n", describe(clusterErr))
		}
		writeClauses(w, inc, policies.candidates)
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
	writeNext(w, inc, policies, now)
	return nil
}

func typeOf(spec *securityv1alpha1.IncidentSpec) securityv1alpha1.IncidentType {
	if spec.Type == "" {
		return securityv1alpha1.TypeIncident
	}
	return spec.Type
}

// writeClauses judges every policy with the operator's routing, clause by
// clause.
func writeClauses(w io.Writer, inc *securityv1alpha1.Incident, candidates routing.Candidates) {
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
	for _, p := range explain.Explain(inc, prepared) {
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
		printable.Fprintf(w, "  %s (priority %d%s): %s\n", name, p.Priority, flow, p.Verdict())
		if p.Invalid == nil && len(p.Clauses) == 0 {
			fmt.Fprintln(w, "    no match clauses: matches every incident")
		}
		for _, c := range p.Clauses {
			printable.Fprintf(w, "    %-9s %s\n", heldWord(c), clauseText(c))
		}
	}
}

func heldWord(c explain.Clause) string {
	switch {
	case c.Err != nil:
		return "error"
	case c.Held:
		return "held"
	}
	return "not held"
}

func clauseText(c explain.Clause) string {
	switch {
	case c.Field == "expression":
		return fmt.Sprintf("expression %s: %s", c.Want, c.Got)
	case c.Field == "selector":
		return fmt.Sprintf("selector %s: the incident has %s", c.Want, c.Got)
	case strings.HasPrefix(c.Field, "impact."):
		return fmt.Sprintf("%s: wants %s, the incident has %s", c.Field, c.Want, c.Got)
	case c.Held:
		return fmt.Sprintf("%s: %s is one of %s", c.Field, c.Got, c.Want)
	}
	return fmt.Sprintf("%s: %s is not one of %s", c.Field, c.Got, c.Want)
}

// writeNext says what the operator will do and when: each policy's next
// escalation, the SLA deadlines and the authority deadline.
func writeNext(w io.Writer, inc *securityv1alpha1.Incident, policies policyView, now time.Time) {
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
			printable.Fprintf(w, "  %s: the next level at %s unless acknowledged first%s\n", p.Name, at(p.NextEscalationAt.Time), nextTargets(policies.of(p), p.Level))
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
		deadline := triage.AuthorityDeadline(inc)
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
