package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/policycheck"
	"github.com/incidentops/incident-operator/internal/routing"
	"github.com/incidentops/incident-operator/internal/routing/gather"
)

// route matches the incident against the policies of its namespace. On a
// match it pins the policies, whose level 0 the lifecycle then reaches;
// without one the incident stays Unrouted until a policy appears.
func (r *IncidentReconciler) route(ctx context.Context, incident *securityv1alpha1.Incident) (bool, error) {
	set, err := r.policySet(ctx, incident.Namespace)
	if err != nil {
		return false, err
	}
	decision := set.index.Route(incident, r.assetsOf(ctx, incident))
	for _, u := range set.unusable {
		r.Events.warningRelated(incident, u.policy, EventPolicyNotEvaluated, "Route", "%s %s was not evaluated: it is not Ready: %s", u.kind, u.policy.GetName(), u.reason)
	}
	for _, s := range decision.Skipped {
		r.Events.warningRelated(incident, set.byName[s.Policy], EventPolicyNotEvaluated, "Route", "%s %s was not evaluated: %v", kindOf(set.byName[s.Policy]), s.Policy, s.Reason)
	}
	for _, s := range decision.Unevaluated {
		r.Events.warningRelated(incident, set.byName[s.Policy], EventPolicyNotEvaluated, "Route",
			"protected %s %s could not be evaluated (%v); it routes this incident all the same, so that its receivers are told", kindOf(set.byName[s.Policy]), s.Policy, s.Reason)
	}
	for _, m := range decision.Matched {
		if reason, ok := set.degraded[m.Name]; ok {
			r.Events.warningRelated(incident, set.byName[m.Name], EventPolicyNotEvaluated, "Route",
				"protected %s %s routes this incident though this operator cannot run all of it (%s); what it cannot deliver goes to its fallback receiver", kindOf(set.byName[m.Name]), m.Name, reason)
		}
	}

	status := &incident.Status
	generation := incident.Generation
	if len(decision.Matched) == 0 {
		message := fmt.Sprintf("no EscalationPolicy in namespace %s, nor any ClusterEscalationPolicy that applies to it, matches this incident; nobody has been told", incident.Namespace)
		if status.Phase != securityv1alpha1.PhaseUnrouted {
			r.Events.warning(incident, EventNoMatchingPolicy, "Route", "%s", message)
			incidentsRouted.WithLabelValues("unmatched").Inc()
		}
		status.Phase = securityv1alpha1.PhaseUnrouted
		setCondition(&status.Conditions, generation, r.Clock.Now(), securityv1alpha1.ConditionRouted, metav1.ConditionFalse, securityv1alpha1.ReasonNoMatchingPolicy, message)
		markStalled(&status.Conditions, generation, r.Clock.Now(), securityv1alpha1.ReasonNoMatchingPolicy, message)
		return false, nil
	}

	now := securityv1alpha1.NewPreciseTime(r.Clock.Now())
	names := make([]string, 0, len(decision.Matched))
	status.Policies = nil
	for _, m := range decision.Matched {
		status.Policies = append(status.Policies, routing.Reference(m, decision))
		names = append(names, m.Name)
	}
	status.Phase = securityv1alpha1.PhaseOpen
	status.RoutedAt = &now
	message := "routed to " + strings.Join(names, ", ")
	setCondition(&status.Conditions, generation, r.Clock.Now(), securityv1alpha1.ConditionRouted, metav1.ConditionTrue, securityv1alpha1.ReasonMatched, message)
	incidentsRouted.WithLabelValues("matched").Inc()
	return true, nil
}

// policySet returns the policies that may route the namespace's incidents,
// its own and the cluster policies that apply to it, prepared for routing,
// building the set from the cache when a policy or the namespace's labels
// changed since it was last built.
func (r *IncidentReconciler) policySet(ctx context.Context, namespace string) (*policySet, error) {
	return r.PolicySets.get(ctx, namespace, func(ctx context.Context) (*policySet, error) {
		return r.buildPolicySet(ctx, namespace)
	})
}

// buildPolicySet reads the namespace's policies from the cache and prepares,
// orders and indexes those that may route.
func (r *IncidentReconciler) buildPolicySet(ctx context.Context, namespace string) (*policySet, error) {
	// The policies are only read, so the cache's objects are used as they
	// are: copying a thousand policies would dominate the cost of routing.
	gathered, err := gather.ForNamespace(ctx, r.Client, namespace, client.UnsafeDisableDeepCopy)
	if err != nil {
		return nil, err
	}
	if len(gathered.Unread) > 0 {
		return nil, errors.Join(gathered.Unread...)
	}
	candidates := gathered.Candidates

	set := &policySet{
		ordered: make([]routing.Policy, 0, len(candidates.Cluster)+len(candidates.Namespaced)),
		byName:  make(map[string]client.Object, len(candidates.Cluster)+len(candidates.Namespaced)),
	}
	for _, e := range candidates.Excluded {
		var obj client.Object = e.Namespaced
		if e.Cluster != nil {
			obj = e.Cluster
		}
		set.unusable = append(set.unusable, unusablePolicy{policy: obj, kind: e.Kind, reason: e.Reason})
	}
	for _, p := range candidates.Cluster {
		judged := r.Verdicts.of(p.UID, p.AsEscalationPolicy())
		switch {
		case judged.reason == "":
		case policycheck.RoutesDespite(p.Spec.Protected, judged.structural):
			// A protected policy is never left out for this operator's
			// settings (an e-mail receiver without SMTP, a destination not
			// allowed): what it cannot deliver is abandoned to its
			// fallback receiver, and each incident it routes says so.
			if set.degraded == nil {
				set.degraded = map[string]string{}
			}
			set.degraded[p.Name] = judged.reason
		default:
			set.unusable = append(set.unusable, unusablePolicy{policy: p, kind: securityv1alpha1.KindClusterEscalationPolicy, reason: judged.reason})
			continue
		}
		set.ordered = append(set.ordered, routing.PrepareCluster(p, r.Expressions))
		set.byName[p.Name] = p
	}
	for _, p := range candidates.Namespaced {
		if reason := r.Verdicts.of(p.UID, p).reason; reason != "" {
			set.unusable = append(set.unusable, unusablePolicy{policy: p, kind: securityv1alpha1.KindEscalationPolicy, reason: reason})
			continue
		}
		set.ordered = append(set.ordered, routing.Prepare(p, r.Expressions))
		set.byName[p.Name] = p
	}
	set.index = routing.NewIndex(routing.Sort(set.ordered))
	return set, nil
}

// kindOf names a policy's kind for messages.
func kindOf(p client.Object) string {
	if _, ok := p.(*securityv1alpha1.ClusterEscalationPolicy); ok {
		return securityv1alpha1.KindClusterEscalationPolicy
	}
	return securityv1alpha1.KindEscalationPolicy
}
