package routing

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

// Every field of spec.match has a clause (an ImpactMatch one clause a
// flag), and no clause names a field the API does not have: a match field
// added without a clause would be ignored by routing and by why alike.
func TestEveryMatchFieldHasAClause(t *testing.T) {
	var want []string
	matchType := reflect.TypeFor[securityv1alpha1.PolicyMatch]()
	for i := range matchType.NumField() {
		f := matchType.Field(i)
		if f.Type == reflect.TypeFor[*securityv1alpha1.ImpactMatch]() {
			impact := f.Type.Elem()
			for j := range impact.NumField() {
				want = append(want, jsonName(f)+"."+jsonName(impact.Field(j)))
			}
			continue
		}
		want = append(want, jsonName(f))
	}
	var got []string
	for _, c := range clauses {
		got = append(got, c.field)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("clauses %v, spec.match has %v", got, want)
	}
}

// Each clause, set alone to what the incident does not have, keeps the
// policy from matching; cleared, the policy matches. So every clause is
// judged by routing, not only listed.
func TestEveryClauseDecides(t *testing.T) {
	yes := true
	asset := &securityv1alpha1.Asset{ObjectMeta: metav1.ObjectMeta{Name: "laptop-0142"},
		Spec: securityv1alpha1.AssetSpec{Type: securityv1alpha1.AssetLaptop, DataClassification: securityv1alpha1.ClassificationInternal}}
	incident := &securityv1alpha1.Incident{
		ObjectMeta: metav1.ObjectMeta{Name: "lost", Labels: map[string]string{"department": "finance"}},
		Spec: securityv1alpha1.IncidentSpec{Category: securityv1alpha1.CategoryLoss, Severity: securityv1alpha1.SeverityLow,
			Assets: []string{"laptop-0142"}},
	}
	assets := map[string]*securityv1alpha1.Asset{"laptop-0142": asset}
	impact := func(set func(*securityv1alpha1.ImpactMatch)) *securityv1alpha1.ImpactMatch {
		m := &securityv1alpha1.ImpactMatch{}
		set(m)
		return m
	}
	failing := map[string]securityv1alpha1.PolicyMatch{
		"severities": {Severities: []securityv1alpha1.Severity{securityv1alpha1.SeverityCritical}},
		"categories": {Categories: []securityv1alpha1.IncidentCategory{securityv1alpha1.CategoryMalware}},
		"types":      {Types: []securityv1alpha1.IncidentType{securityv1alpha1.TypeWeakness}},
		"selector":   {Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"department": "social-care"}}},
		"assets":     {Assets: &securityv1alpha1.AssetMatch{HoldsPersonalData: &yes}},
		"expression": {Expression: "incident.spec.severity == 'High'"},
	}
	for _, f := range securityv1alpha1.ImpactFlagFields {
		failing["impact."+f.Name] = securityv1alpha1.PolicyMatch{Impact: impact(func(m *securityv1alpha1.ImpactMatch) {
			reflect.ValueOf(m).Elem().FieldByNameFunc(func(n string) bool { return strings.EqualFold(n, f.Name) }).Set(reflect.ValueOf(&yes))
		})}
	}
	cache := NewExpressionCache()
	for _, c := range clauses {
		match, ok := failing[c.field]
		if !ok {
			t.Errorf("no failing case for clause %s", c.field)
			continue
		}
		p := Prepare(&securityv1alpha1.EscalationPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: securityv1alpha1.EscalationPolicySpec{Match: match}}, cache)
		if p.Invalid != nil {
			t.Fatalf("%s: %v", c.field, p.Invalid)
		}
		if !c.set(&p) {
			t.Errorf("%s: the clause does not see it is set", c.field)
		}
		if d := RouteWithAssets(incident, assets, []Policy{p}); len(d.Matched) != 0 {
			t.Errorf("%s: %v matched an incident without it", c.field, match)
		}
		if e := Explain(incident, assets, []Policy{p}); len(e[0].Clauses) != 1 || e[0].Clauses[0].Field != c.field || e[0].Clauses[0].Held {
			t.Errorf("%s: explained as %+v", c.field, e[0].Clauses)
		}
	}
	open := Prepare(&securityv1alpha1.EscalationPolicy{ObjectMeta: metav1.ObjectMeta{Name: "all"}}, cache)
	if d := RouteWithAssets(incident, assets, []Policy{open}); len(d.Matched) != 1 {
		t.Error("a policy without clauses does not match")
	}
}

// Each condition of an assets clause, set alone to what the asset does not
// have, keeps the asset from matching.
func TestEveryAssetConditionDecides(t *testing.T) {
	yes := true
	asset := &securityv1alpha1.AssetSpec{Type: securityv1alpha1.AssetLaptop, DataClassification: securityv1alpha1.ClassificationInternal,
		Supplier: &securityv1alpha1.Supplier{Name: "walsall-mbc", ContactVia: securityv1alpha1.ContactDirect}}
	failing := map[string]securityv1alpha1.AssetMatch{
		"types":                 {Types: []securityv1alpha1.AssetType{securityv1alpha1.AssetServer}},
		"suppliers":             {Suppliers: []string{"other"}},
		"contactVia":            {ContactVia: securityv1alpha1.ContactNamedContact},
		"classificationAtLeast": {ClassificationAtLeast: securityv1alpha1.ClassificationRestricted},
		"holdsPersonalData":     {HoldsPersonalData: &yes},
		"businessCritical":      {BusinessCritical: &yes},
	}
	matchType := reflect.TypeFor[securityv1alpha1.AssetMatch]()
	for i := range matchType.NumField() {
		name := jsonName(matchType.Field(i))
		m, ok := failing[name]
		if !ok {
			t.Errorf("spec.match.assets.%s has no case here: add one, and make assetMatches judge it", name)
			continue
		}
		if assetMatches(&m, asset) {
			t.Errorf("assets.%s: %+v matches an asset without it", name, m)
		}
	}
	if !assetMatches(&securityv1alpha1.AssetMatch{}, asset) {
		t.Error("an empty assets clause does not match every asset")
	}
}
