package controllers

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/routing"
)

// route matches the incident against the policies of its namespace. On a
// match it pins the policies, whose level 0 the lifecycle then reaches;
// without one the incident stays Unrouted until a policy appears.
func (r *IncidentReconciler) route(ctx context.Context, incident *securityv1alpha1.Incident) (bool, error) {
	set, err := r.policySet(ctx, incident.Namespace)
	if err != nil {
		return false, err
	}
	decision := routing.RouteWithAssets(incident, r.assetsOf(ctx, incident), set.ordered)
	for _, u := range set.unusable {
		r.Events.warningRelated(incident, u.policy, EventPolicyNotEvaluated, "Route", "EscalationPolicy %s was not evaluated: it is not Ready: %s", u.policy.Name, u.reason)
	}
	for _, s := range decision.Skipped {
		r.Events.warningRelated(incident, set.byName[s.Policy], EventPolicyNotEvaluated, "Route", "EscalationPolicy %s was not evaluated: %v", s.Policy, s.Reason)
	}

	status := &incident.Status
	generation := incident.Generation
	if len(decision.Matched) == 0 {
		message := fmt.Sprintf("no EscalationPolicy in namespace %s matches this incident; nobody has been told", incident.Namespace)
		if status.Phase != securityv1alpha1.PhaseUnrouted {
			r.Events.warning(incident, EventNoMatchingPolicy, "Route", "%s", message)
			incidentsRouted.WithLabelValues("unmatched").Inc()
		}
		status.Phase = securityv1alpha1.PhaseUnrouted
		setCondition(&status.Conditions, generation, r.Clock.Now(), securityv1alpha1.ConditionRouted, metav1.ConditionFalse, securityv1alpha1.ReasonNoMatchingPolicy, message)
		markStalled(&status.Conditions, generation, r.Clock.Now(), securityv1alpha1.ReasonNoMatchingPolicy, message)
		return false, nil
	}

	now := r.now()
	names := make([]string, 0, len(decision.Matched))
	status.Policies = nil
	for _, m := range decision.Matched {
		status.Policies = append(status.Policies, securityv1alpha1.PolicyReference{Name: m.Name, Generation: m.Generation, MatchedAsset: decision.MatchedAssets[m.Name]})
		names = append(names, m.Name)
	}
	status.Phase = securityv1alpha1.PhaseOpen
	status.RoutedAt = &now
	message := "routed to " + strings.Join(names, ", ")
	setCondition(&status.Conditions, generation, r.Clock.Now(), securityv1alpha1.ConditionRouted, metav1.ConditionTrue, securityv1alpha1.ReasonMatched, message)
	incidentsRouted.WithLabelValues("matched").Inc()
	return true, nil
}

// policySet returns the namespace's policies prepared for routing, building
// the set from the cache when a policy changed since it was last built.
func (r *IncidentReconciler) policySet(ctx context.Context, namespace string) (*policySet, error) {
	set, version := r.PolicySets.get(namespace)
	if set != nil {
		return set, nil
	}
	var list securityv1alpha1.EscalationPolicyList
	// The policies are only read, so the cache's objects are used as they
	// are: copying a thousand policies would dominate the cost of routing.
	if err := r.List(ctx, &list, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing escalation policies: %w", err)
	}
	set = &policySet{
		ordered: make([]routing.Policy, 0, len(list.Items)),
		byName:  make(map[string]*securityv1alpha1.EscalationPolicy, len(list.Items)),
	}
	for i := range list.Items {
		p := &list.Items[i]
		if !p.DeletionTimestamp.IsZero() {
			continue
		}
		if reason := unusableReason(p); reason != "" {
			set.unusable = append(set.unusable, unusablePolicy{policy: p, reason: reason})
			continue
		}
		set.ordered = append(set.ordered, routing.Prepare(p, r.Expressions))
		set.byName[p.Name] = p
	}
	routing.Sort(set.ordered)
	r.PolicySets.put(namespace, version, set)
	return set, nil
}
