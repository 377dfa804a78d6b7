package routing

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/google/cel-go/cel"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// clause is one condition a policy's spec.match may set: the one table of
// them, which routing evaluates and Explain describes, so that what the
// operator decides and what `kubectl incident why` says cannot disagree.
// TestEveryMatchFieldHasAClause fails when a field of PolicyMatch has none.
type clause struct {
	// field is the clause's path under spec.match: severities,
	// impact.personalData, assets, ...
	field string
	// set is true when the policy asks for this clause.
	set func(p *Policy) bool
	// holds judges the clause for the incident; an error is a clause that
	// cannot be evaluated for it.
	holds func(s *subject, p *Policy) (bool, error)
	// want and got describe the clause and the incident, for people.
	want, got func(s *subject, p *Policy) string
}

// subject is the incident being routed, with what its clauses read.
type subject struct {
	incident *securityv1alpha1.Incident
	assets   map[string]*securityv1alpha1.Asset
	// vars binds the incident for expressions, made on first use.
	vars    cel.Activation
	varsErr error
	// matchedAsset is the asset that made the last assets clause hold.
	matchedAsset string
}

func (s *subject) activation() (cel.Activation, error) {
	if s.vars == nil && s.varsErr == nil {
		s.vars, s.varsErr = incidentActivation(s.incident, s.assets)
	}
	return s.vars, s.varsErr
}

// clauses, in the order routing judges them: the cheap comparisons first,
// the assets, and the expression last.
var clauses = slices.Concat(
	[]clause{
		listClause("severities", func(m *securityv1alpha1.PolicyMatch) []securityv1alpha1.Severity { return m.Severities },
			func(inc *securityv1alpha1.Incident) securityv1alpha1.Severity { return inc.Spec.Severity }),
		listClause("categories", func(m *securityv1alpha1.PolicyMatch) []securityv1alpha1.IncidentCategory { return m.Categories },
			func(inc *securityv1alpha1.Incident) securityv1alpha1.IncidentCategory { return inc.Spec.Category }),
		listClause("types", func(m *securityv1alpha1.PolicyMatch) []securityv1alpha1.IncidentType { return m.Types },
			(*securityv1alpha1.Incident).IncidentType),
	},
	impactClauses(),
	[]clause{
		{
			field: "selector",
			set:   func(p *Policy) bool { return p.Match.Selector != nil },
			holds: func(s *subject, p *Policy) (bool, error) {
				return p.Selector.Matches(labels.Set(s.incident.Labels)), nil
			},
			want: func(_ *subject, p *Policy) string { return metav1.FormatLabelSelector(p.Match.Selector) },
			got:  func(s *subject, _ *Policy) string { return labelText(s.incident.Labels) },
		},
		{
			field: "assets",
			set:   func(p *Policy) bool { return p.Match.Assets != nil },
			holds: func(s *subject, p *Policy) (bool, error) {
				s.matchedAsset = MatchingAsset(p.Match.Assets, s.incident.Spec.Assets, s.assets)
				return s.matchedAsset != "", nil
			},
			want: func(_ *subject, p *Policy) string { return describeAssetMatch(p.Match.Assets) },
			got:  func(s *subject, _ *Policy) string { return describeAssets(s.incident.Spec.Assets, s.assets) },
		},
		{
			field: "expression",
			set:   func(p *Policy) bool { return p.Expression != nil },
			holds: func(s *subject, p *Policy) (bool, error) {
				vars, err := s.activation()
				if err != nil {
					return false, err
				}
				return p.Expression.matches(vars)
			},
			want: func(_ *subject, p *Policy) string { return p.Match.Expression },
			got:  func(*subject, *Policy) string { return "" },
		},
	},
)

// listClause is a clause that holds when the incident's value is one of
// the policy's list.
func listClause[T ~string](field string, list func(*securityv1alpha1.PolicyMatch) []T, value func(*securityv1alpha1.Incident) T) clause {
	return clause{
		field: field,
		set:   func(p *Policy) bool { return len(list(&p.Match)) > 0 },
		holds: func(s *subject, p *Policy) (bool, error) {
			return slices.Contains(list(&p.Match), value(s.incident)), nil
		},
		want: func(_ *subject, p *Policy) string { return joined(list(&p.Match)) },
		got:  func(s *subject, _ *Policy) string { return string(value(s.incident)) },
	}
}

// impactClauses are one clause a flag of ImpactMatch, as ImpactFlagFields
// lists them.
func impactClauses() []clause {
	var out []clause
	for _, f := range securityv1alpha1.ImpactFlagFields {
		out = append(out, clause{
			field: "impact." + f.Name,
			set:   func(p *Policy) bool { return p.Match.Impact != nil && f.Want(p.Match.Impact) != nil },
			holds: func(s *subject, p *Policy) (bool, error) {
				return *f.Want(p.Match.Impact) == f.Got(&s.incident.Spec.Impact), nil
			},
			want: func(_ *subject, p *Policy) string { return strconv.FormatBool(*f.Want(p.Match.Impact)) },
			got:  func(s *subject, _ *Policy) string { return strconv.FormatBool(f.Got(&s.incident.Spec.Impact)) },
		})
	}
	return out
}

// MatchingAsset is the first of names, in the incident's order, whose Asset
// meets every condition of m; "" when none does.
func MatchingAsset(m *securityv1alpha1.AssetMatch, names []string, assets map[string]*securityv1alpha1.Asset) string {
	for _, name := range names {
		if a := assets[name]; a != nil && assetMatches(m, &a.Spec) {
			return name
		}
	}
	return ""
}

func assetMatches(m *securityv1alpha1.AssetMatch, a *securityv1alpha1.AssetSpec) bool {
	if len(m.Types) > 0 && !slices.Contains(m.Types, a.Type) {
		return false
	}
	if len(m.Suppliers) > 0 && (a.Supplier == nil || !slices.Contains(m.Suppliers, a.Supplier.Name)) {
		return false
	}
	if m.ContactVia != "" && (a.Supplier == nil || a.Supplier.ContactVia != m.ContactVia) {
		return false
	}
	if m.ClassificationAtLeast != "" && a.DataClassification.Rank() < m.ClassificationAtLeast.Rank() {
		return false
	}
	if m.HoldsPersonalData != nil && *m.HoldsPersonalData != a.HoldsPersonalData {
		return false
	}
	if m.BusinessCritical != nil && *m.BusinessCritical != a.BusinessCritical {
		return false
	}
	return true
}

// describeAssetMatch says what an assets clause asks of one asset.
func describeAssetMatch(m *securityv1alpha1.AssetMatch) string {
	var parts []string
	if len(m.Types) > 0 {
		parts = append(parts, "type one of "+joined(m.Types))
	}
	if len(m.Suppliers) > 0 {
		parts = append(parts, "supplier one of "+strings.Join(m.Suppliers, ", "))
	}
	if m.ContactVia != "" {
		parts = append(parts, "supplier contacted via "+string(m.ContactVia))
	}
	if m.ClassificationAtLeast != "" {
		parts = append(parts, "classification at least "+string(m.ClassificationAtLeast))
	}
	if m.HoldsPersonalData != nil {
		parts = append(parts, "holdsPersonalData "+strconv.FormatBool(*m.HoldsPersonalData))
	}
	if m.BusinessCritical != nil {
		parts = append(parts, "businessCritical "+strconv.FormatBool(*m.BusinessCritical))
	}
	if len(parts) == 0 {
		return "any asset"
	}
	return "an asset with " + strings.Join(parts, ", ")
}

// describeAssets says what the incident's assets are, as the clause reads
// them.
func describeAssets(names []string, assets map[string]*securityv1alpha1.Asset) string {
	if len(names) == 0 {
		return "no assets"
	}
	var parts []string
	for _, name := range names {
		a := assets[name]
		if a == nil {
			parts = append(parts, name+" (not found)")
			continue
		}
		supplier := ""
		if a.Spec.Supplier != nil {
			supplier = ", supplier " + a.Spec.Supplier.Name
		}
		parts = append(parts, fmt.Sprintf("%s (%s, %s%s)", name, a.Spec.Type, a.Spec.DataClassification, supplier))
	}
	return strings.Join(parts, "; ")
}

func joined[T ~string](values []T) string {
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
