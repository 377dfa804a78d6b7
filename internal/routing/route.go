// Package routing decides which EscalationPolicies an incident goes to. It is
// a pure function of the incident and the policies: no client, no clock.
package routing

import (
	"cmp"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	k8stypes "k8s.io/apimachinery/pkg/types"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Policy is an EscalationPolicy or a ClusterEscalationPolicy prepared for
// routing: its selector parsed and its expression compiled.
type Policy struct {
	// Kind is securityv1alpha1.KindEscalationPolicy or
	// KindClusterEscalationPolicy.
	Kind       string
	Name       string
	Generation int64
	Priority   int32
	Continue   bool
	// Protected policies are evaluated even after a policy ordered before
	// them matched with continue: false.
	Protected  bool
	Match      securityv1alpha1.PolicyMatch
	Selector   labels.Selector
	Expression *Expression
	// Invalid is why the policy cannot be evaluated, if it cannot.
	Invalid error
}

// Prepare turns an EscalationPolicy into a routing Policy, using the cache
// for its expression.
func Prepare(p *securityv1alpha1.EscalationPolicy, cache *ExpressionCache) Policy {
	out := Policy{
		Kind:       securityv1alpha1.KindEscalationPolicy,
		Name:       p.Name,
		Generation: p.Generation,
		Priority:   p.Spec.Priority,
		Continue:   p.Spec.Continue,
		Match:      p.Spec.Match,
		Selector:   labels.Everything(),
	}
	if s := p.Spec.Match.Selector; s != nil {
		sel, err := metav1.LabelSelectorAsSelector(s)
		if err != nil {
			out.Invalid = fmt.Errorf("spec.match.selector: %w", err)
			return out
		}
		out.Selector = sel
	}
	expr, err := cache.Get(k8stypes.NamespacedName{Namespace: p.Namespace, Name: p.Name}, p.Generation, p.Spec.Match.Expression)
	if err != nil {
		out.Invalid = fmt.Errorf("spec.match.expression: %w", err)
		return out
	}
	out.Expression = expr
	return out
}

// Skipped is a policy that could not be evaluated for an incident.
type Skipped struct {
	Policy string
	Reason error
}

// Decision is the outcome of routing one incident.
type Decision struct {
	// Matched policies in evaluation order.
	Matched []Policy
	// MatchedAssets names, by policy, the asset that made its
	// spec.match.assets hold.
	MatchedAssets map[string]string
	// Skipped policies that could not be evaluated, with the reason.
	Skipped []Skipped
	// Unevaluated are protected policies that could not be evaluated and
	// are among Matched all the same: a protected policy is never skipped
	// silently, so when it cannot say whether it matches, its receivers are
	// told rather than left out.
	Unevaluated []Skipped
}

// Route evaluates the policies from the highest priority to the lowest, ties
// broken by name, and stops at the first match unless that policy continues;
// protected cluster policies after it are still evaluated. Policies that
// cannot be evaluated are skipped and reported, never fatal: one broken
// policy must not keep an incident from everyone else.
func Route(incident *securityv1alpha1.Incident, policies []Policy) Decision {
	return RouteSorted(incident, Sort(slices.Clone(policies)))
}

// Sort puts policies in evaluation order, in place, and returns them.
func Sort(policies []Policy) []Policy {
	slices.SortFunc(policies, func(a, b Policy) int {
		if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return policies
}

// RouteSorted is Route for policies already in evaluation order, as Sort
// leaves them; callers that route many incidents sort once. A policy that
// matches on assets matches none: RouteWithAssets gives them.
func RouteSorted(incident *securityv1alpha1.Incident, ordered []Policy) Decision {
	return RouteWithAssets(incident, nil, ordered)
}

// RouteWithAssets is RouteSorted with the Assets the incident names, by
// name, for policies that match on them; an asset that does not exist
// matches nothing.
func RouteWithAssets(incident *securityv1alpha1.Incident, assets map[string]*securityv1alpha1.Asset, ordered []Policy) Decision {
	r := router{subject: subject{incident: incident, assets: assets}}
	for i := range ordered {
		r.consider(&ordered[i])
	}
	return r.decision
}

// router is one incident's routing under way: what each policy considered
// so far decided. Policies are considered in evaluation order; Index.Route
// considers only those its index leaves, which changes nothing, since a
// policy a cheap clause rules out is neither matched nor reported.
type router struct {
	subject  subject
	decision Decision
	// stopped is true once a policy that does not continue matched.
	stopped bool
}

// consider judges one policy, the next in evaluation order.
func (r *router) consider(p *Policy) {
	if r.stopped && !p.Protected {
		return
	}
	d := &r.decision
	if p.Invalid != nil {
		d.cannotEvaluate(*p, p.Invalid)
		return
	}
	held, err := r.subject.judge(p)
	if err != nil {
		d.cannotEvaluate(*p, err)
		return
	}
	if !held {
		return
	}
	d.Matched = append(d.Matched, *p)
	if p.Match.Assets != nil {
		if d.MatchedAssets == nil {
			d.MatchedAssets = map[string]string{}
		}
		d.MatchedAssets[p.Name] = r.subject.matchedAsset
	}
	if !p.Continue {
		r.stopped = true
	}
}

// judge is whether every clause p sets holds, stopping at the first that
// does not; an error names the clause that cannot be evaluated.
func (s *subject) judge(p *Policy) (bool, error) {
	for i := range clauses {
		c := &clauses[i]
		if !c.set(p) {
			continue
		}
		held, err := c.holds(s, p)
		if err != nil {
			return false, fmt.Errorf("spec.match.%s: %w", c.field, err)
		}
		if !held {
			return false, nil
		}
	}
	return true, nil
}

// cannotEvaluate records a policy that could not be evaluated: skipped, or,
// when protected, matched all the same (Decision.Unevaluated). It never
// stops the evaluation of the policies after it.
func (d *Decision) cannotEvaluate(p Policy, reason error) {
	if p.Protected {
		d.Matched = append(d.Matched, p)
		d.Unevaluated = append(d.Unevaluated, Skipped{Policy: p.Name, Reason: reason})
		return
	}
	d.Skipped = append(d.Skipped, Skipped{Policy: p.Name, Reason: reason})
}

// Reference pins a matched policy in the incident's status: its name,
// the generation that routed it and the asset it matched on. A
// namespace's own policy leaves the kind unset, as references made before
// cluster policies did.
func Reference(m Policy, decision Decision) securityv1alpha1.PolicyReference {
	ref := securityv1alpha1.PolicyReference{Name: m.Name, Generation: m.Generation, MatchedAsset: decision.MatchedAssets[m.Name]}
	if m.Kind == securityv1alpha1.KindClusterEscalationPolicy {
		ref.Kind = m.Kind
	}
	return ref
}
