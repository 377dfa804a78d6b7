package routing

import (
	"fmt"
	"slices"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Clause is one condition of a policy's match, judged for one incident.
type Clause struct {
	// Field is the clause's path under spec.match: severities,
	// categories, types, impact.<flag>, selector, assets or expression.
	Field string
	// Want is what the policy asks for, and Got what the incident has.
	Want, Got string
	// Held is true when routing finds the clause true for the incident.
	Held bool
	// Err is why the clause could not be evaluated (an expression that
	// fails on this incident).
	Err error
}

// Explanation is how one policy stands against an incident.
type Explanation struct {
	// Kind is EscalationPolicy or ClusterEscalationPolicy.
	Kind      string
	Name      string
	Priority  int32
	Continue  bool
	Protected bool
	// Clauses of the policy's match, in the order routing judges them;
	// none when the policy matches every incident.
	Clauses []Clause
	// Invalid is why routing skips the policy altogether.
	Invalid error
	// Matches is true when every clause holds.
	Matches bool
	// Routed is true when routing chose the policy.
	Routed bool
	// MatchedAsset is the asset that made spec.match.assets hold.
	MatchedAsset string
	// StoppedBy names the policy that matched earlier and does not
	// continue, when this one matches but was never reached.
	StoppedBy string
}

// Explain judges each policy against the incident, in routing's order,
// every clause of each, with the same clauses and the same decision as
// RouteWithAssets: what it says routed is what the operator routes.
func Explain(incident *securityv1alpha1.Incident, assets map[string]*securityv1alpha1.Asset, policies []Policy) []Explanation {
	ordered := Sort(slices.Clone(policies))
	decision := RouteWithAssets(incident, assets, ordered)
	// The first match that does not continue stops every policy after it
	// but the protected ones.
	var stopper string
	if i := slices.IndexFunc(decision.Matched, func(m Policy) bool { return !m.Continue }); i >= 0 {
		stopper = decision.Matched[i].Name
	}
	s := &subject{incident: incident, assets: assets}
	out := make([]Explanation, 0, len(ordered))
	for i := range ordered {
		p := &ordered[i]
		e := Explanation{Kind: p.Kind, Name: p.Name, Priority: p.Priority, Continue: p.Continue, Protected: p.Protected, Invalid: p.Invalid}
		e.Routed = slices.ContainsFunc(decision.Matched, func(m Policy) bool { return m.Name == p.Name && m.Kind == p.Kind })
		e.MatchedAsset = decision.MatchedAssets[p.Name]
		if p.Invalid == nil {
			e.Clauses = s.explain(p)
			e.Matches = !slices.ContainsFunc(e.Clauses, func(c Clause) bool { return !c.Held })
			if e.Matches && !e.Routed {
				e.StoppedBy = stopper
			}
		}
		out = append(out, e)
	}
	return out
}

// explain judges every clause p sets, none skipped.
func (s *subject) explain(p *Policy) []Clause {
	var out []Clause
	for i := range clauses {
		c := &clauses[i]
		if !c.set(p) {
			continue
		}
		held, err := c.holds(s, p)
		judged := Clause{Field: c.field, Want: c.want(s, p), Got: c.got(s, p), Held: held && err == nil, Err: err}
		if c.field == "expression" {
			judged.Got = fmt.Sprint(judged.Held)
			if err != nil {
				judged.Got = "error: " + err.Error()
			}
		}
		out = append(out, judged)
	}
	return out
}

// Verdict says in a few words how the policy stands.
func (e Explanation) Verdict() string {
	switch {
	case e.Invalid != nil:
		return "not evaluated: " + e.Invalid.Error()
	case e.Routed:
		return "matched"
	case e.Matches && e.StoppedBy != "":
		return fmt.Sprintf("would match, but not reached: %s matched first and does not continue", e.StoppedBy)
	case e.Matches:
		return "would match"
	}
	return "does not match"
}
