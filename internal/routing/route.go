// Package routing decides which EscalationPolicies an incident goes to. It is
// a pure function of the incident and the policies: no client, no clock.
package routing

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/google/cel-go/cel"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	k8stypes "k8s.io/apimachinery/pkg/types"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Policy is an EscalationPolicy prepared for routing: its selector parsed and
// its expression compiled.
type Policy struct {
	Name       string
	Generation int64
	Priority   int32
	Continue   bool
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
	// Skipped policies that could not be evaluated, with the reason.
	Skipped []Skipped
}

// Route evaluates the policies from the highest priority to the lowest, ties
// broken by name, and stops at the first match unless that policy continues.
// Policies that cannot be evaluated are skipped and reported, never fatal:
// one broken policy must not keep an incident from everyone else.
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
// leaves them; callers that route many incidents sort once.
func RouteSorted(incident *securityv1alpha1.Incident, ordered []Policy) Decision {
	var (
		d    Decision
		vars cel.Activation
	)
	for _, p := range ordered {
		if p.Invalid != nil {
			d.Skipped = append(d.Skipped, Skipped{Policy: p.Name, Reason: p.Invalid})
			continue
		}
		if !matchesFields(incident, p) {
			continue
		}
		if p.Expression != nil {
			if vars == nil {
				var err error
				if vars, err = incidentActivation(incident); err != nil {
					d.Skipped = append(d.Skipped, Skipped{Policy: p.Name, Reason: fmt.Errorf("spec.match.expression: %w", err)})
					continue
				}
			}
			ok, err := p.Expression.matches(vars)
			if err != nil {
				d.Skipped = append(d.Skipped, Skipped{Policy: p.Name, Reason: fmt.Errorf("spec.match.expression: %w", err)})
				continue
			}
			if !ok {
				continue
			}
		}
		d.Matched = append(d.Matched, p)
		if !p.Continue {
			break
		}
	}
	return d
}

func matchesFields(incident *securityv1alpha1.Incident, p Policy) bool {
	m := p.Match
	spec := &incident.Spec
	if len(m.Categories) > 0 && !slices.Contains(m.Categories, spec.Category) {
		return false
	}
	if len(m.Severities) > 0 && !slices.Contains(m.Severities, spec.Severity) {
		return false
	}
	if len(m.Types) > 0 && !slices.Contains(m.Types, incidentType(spec)) {
		return false
	}
	if m.Impact != nil && !matchesImpact(m.Impact, &spec.Impact) {
		return false
	}
	return p.Selector.Matches(labels.Set(incident.Labels))
}

// incidentType applies the API default for objects that were never defaulted
// by the API server, such as those built in tests.
func incidentType(spec *securityv1alpha1.IncidentSpec) securityv1alpha1.IncidentType {
	if spec.Type == "" {
		return securityv1alpha1.TypeIncident
	}
	return spec.Type
}

func matchesImpact(want *securityv1alpha1.ImpactMatch, got *securityv1alpha1.Impact) bool {
	flags := []struct {
		want *bool
		got  bool
	}{
		{want.PersonalData, got.PersonalData},
		{want.SpecialCategoryData, got.SpecialCategoryData},
		{want.SocialCare, got.SocialCare},
		{want.ITRelated, got.ITRelated},
		{want.ServiceAffecting, got.ServiceAffecting},
		{want.BusinessCritical, got.BusinessCritical},
		{want.SecurityBreach, got.SecurityBreach},
	}
	for _, f := range flags {
		if f.want != nil && *f.want != f.got {
			return false
		}
	}
	return true
}
