// Package explain says why each EscalationPolicy did or did not route an
// incident, clause by clause. Every clause is judged by internal/routing
// itself, on a policy that holds that clause alone, so the explanation
// cannot disagree with the decision the operator made.
package explain

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/routing"
)

// Clause is one condition of a policy's match.
type Clause struct {
	// Field is the match field: severities, categories, types,
	// impact.<flag>, selector or expression.
	Field string
	// Want is what the policy asks for, and Got what the incident has.
	Want, Got string
	// Held is true when routing finds the clause true for the incident.
	Held bool
	// Err is why the clause could not be evaluated (an expression that
	// fails on this incident).
	Err error
}

// Policy is how one policy stands against the incident.
type Policy struct {
	// Kind is EscalationPolicy or ClusterEscalationPolicy.
	Kind      string
	Name      string
	Priority  int32
	Continue  bool
	Protected bool
	// Clauses of the policy's match, in the order of the API's fields; none
	// when the policy matches every incident.
	Clauses []Clause
	// Invalid is why routing skips the policy altogether.
	Invalid error
	// Matches is true when every clause holds.
	Matches bool
	// Routed is true when routing chose the policy.
	Routed bool
	// StoppedBy names the policy that matched earlier and does not
	// continue, when this one matches but was never reached.
	StoppedBy string
}

// Explain judges each policy against the incident, in routing's order
// (priority high to low, then name).
func Explain(incident *securityv1alpha1.Incident, policies []routing.Policy) []Policy {
	ordered := routing.Sort(slices.Clone(policies))
	decision := routing.RouteSorted(incident, ordered)
	// The first match that does not continue stops every policy after it
	// but the protected ones.
	var stopper string
	if i := slices.IndexFunc(decision.Matched, func(m routing.Policy) bool { return !m.Continue }); i >= 0 {
		stopper = decision.Matched[i].Name
	}
	out := make([]Policy, 0, len(ordered))
	for _, p := range ordered {
		e := Policy{Kind: p.Kind, Name: p.Name, Priority: p.Priority, Continue: p.Continue, Protected: p.Protected, Invalid: p.Invalid}
		e.Routed = slices.ContainsFunc(decision.Matched, func(m routing.Policy) bool { return m.Name == p.Name })
		if p.Invalid == nil {
			e.Clauses = clauses(incident, p)
			e.Matches = !slices.ContainsFunc(e.Clauses, func(c Clause) bool { return !c.Held })
			if e.Matches && !e.Routed {
				e.StoppedBy = stopper
			}
		}
		out = append(out, e)
	}
	return out
}

// clauses judges each clause of p's match with routing, on a policy that
// holds that clause only.
func clauses(incident *securityv1alpha1.Incident, p routing.Policy) []Clause {
	m := p.Match
	spec := &incident.Spec
	var out []Clause
	judge := func(field, want, got string, only func(*routing.Policy)) {
		single := routing.Policy{Name: p.Name, Selector: labels.Everything()}
		only(&single)
		d := routing.RouteSorted(incident, []routing.Policy{single})
		c := Clause{Field: field, Want: want, Got: got, Held: len(d.Matched) == 1}
		if len(d.Skipped) > 0 {
			c.Err = d.Skipped[0].Reason
		}
		out = append(out, c)
	}
	if len(m.Severities) > 0 {
		judge("severities", list(m.Severities), string(spec.Severity), func(s *routing.Policy) { s.Match.Severities = m.Severities })
	}
	if len(m.Categories) > 0 {
		judge("categories", list(m.Categories), string(spec.Category), func(s *routing.Policy) { s.Match.Categories = m.Categories })
	}
	if len(m.Types) > 0 {
		typ := spec.Type
		if typ == "" {
			typ = securityv1alpha1.TypeIncident
		}
		judge("types", list(m.Types), string(typ), func(s *routing.Policy) { s.Match.Types = m.Types })
	}
	if m.Impact != nil {
		for _, f := range impactFlags(m.Impact, &spec.Impact) {
			judge("impact."+f.name, strconv.FormatBool(*f.want), strconv.FormatBool(f.got), func(s *routing.Policy) { s.Match.Impact = f.only })
		}
	}
	if m.Selector != nil {
		judge("selector", metav1.FormatLabelSelector(m.Selector), labelText(incident.Labels), func(s *routing.Policy) { s.Selector = p.Selector })
	}
	if m.Expression != "" {
		judge("expression", m.Expression, "", func(s *routing.Policy) { s.Expression = p.Expression })
		last := &out[len(out)-1]
		switch {
		case last.Err != nil:
			last.Got = "error: " + last.Err.Error()
		default:
			last.Got = strconv.FormatBool(last.Held)
		}
	}
	return out
}

type impactFlag struct {
	name string
	want *bool
	got  bool
	// only is an ImpactMatch that asks for this flag alone.
	only *securityv1alpha1.ImpactMatch
}

// impactFlags are the flags the match sets, in the API's order.
func impactFlags(want *securityv1alpha1.ImpactMatch, got *securityv1alpha1.Impact) []impactFlag {
	all := []impactFlag{
		{"personalData", want.PersonalData, got.PersonalData, &securityv1alpha1.ImpactMatch{PersonalData: want.PersonalData}},
		{"specialCategoryData", want.SpecialCategoryData, got.SpecialCategoryData, &securityv1alpha1.ImpactMatch{SpecialCategoryData: want.SpecialCategoryData}},
		{"socialCare", want.SocialCare, got.SocialCare, &securityv1alpha1.ImpactMatch{SocialCare: want.SocialCare}},
		{"itRelated", want.ITRelated, got.ITRelated, &securityv1alpha1.ImpactMatch{ITRelated: want.ITRelated}},
		{"serviceAffecting", want.ServiceAffecting, got.ServiceAffecting, &securityv1alpha1.ImpactMatch{ServiceAffecting: want.ServiceAffecting}},
		{"businessCritical", want.BusinessCritical, got.BusinessCritical, &securityv1alpha1.ImpactMatch{BusinessCritical: want.BusinessCritical}},
		{"securityBreach", want.SecurityBreach, got.SecurityBreach, &securityv1alpha1.ImpactMatch{SecurityBreach: want.SecurityBreach}},
	}
	return slices.DeleteFunc(all, func(f impactFlag) bool { return f.want == nil })
}

func list[T ~string](values []T) string {
	s := make([]string, len(values))
	for i, v := range values {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

func labelText(l map[string]string) string {
	if len(l) == 0 {
		return "no labels"
	}
	return labels.Set(l).String()
}

// Verdict says in a few words how the policy stands.
func (p Policy) Verdict() string {
	switch {
	case p.Invalid != nil:
		return "not evaluated: " + p.Invalid.Error()
	case p.Routed:
		return "matched"
	case p.Matches && p.StoppedBy != "":
		return fmt.Sprintf("would match, but not reached: %s matched first and does not continue", p.StoppedBy)
	case p.Matches:
		return "would match"
	}
	return "does not match"
}
