package routing

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

func TestRouteOnAssets(t *testing.T) {
	asset := func(name string, mutate func(*securityv1alpha1.AssetSpec)) *securityv1alpha1.Asset {
		a := &securityv1alpha1.Asset{ObjectMeta: metav1.ObjectMeta{Namespace: "council", Name: name},
			Spec: securityv1alpha1.AssetSpec{Type: securityv1alpha1.AssetLaptop, DataClassification: securityv1alpha1.ClassificationInternal}}
		mutate(&a.Spec)
		return a
	}
	mis := asset("mis", func(s *securityv1alpha1.AssetSpec) {
		s.Type, s.BusinessCritical, s.HoldsPersonalData = securityv1alpha1.AssetApplication, true, true
		s.DataClassification = securityv1alpha1.ClassificationConfidential
		s.Supplier = &securityv1alpha1.Supplier{Name: "Capita", ContactVia: securityv1alpha1.ContactNamedContact}
	})
	laptop := asset("laptop", func(s *securityv1alpha1.AssetSpec) {
		s.Supplier = &securityv1alpha1.Supplier{Name: "Dell", ContactVia: securityv1alpha1.ContactDirect}
	})
	assets := map[string]*securityv1alpha1.Asset{"mis": mis, "laptop": laptop}
	cases := map[string]struct {
		named   []string
		match   securityv1alpha1.AssetMatch
		matched string
	}{
		"type":                      {named: []string{"laptop", "mis"}, match: securityv1alpha1.AssetMatch{Types: []securityv1alpha1.AssetType{securityv1alpha1.AssetApplication}}, matched: "mis"},
		"supplier":                  {named: []string{"mis", "laptop"}, match: securityv1alpha1.AssetMatch{Suppliers: []string{"Dell"}}, matched: "laptop"},
		"contact via named contact": {named: []string{"laptop", "mis"}, match: securityv1alpha1.AssetMatch{ContactVia: securityv1alpha1.ContactNamedContact}, matched: "mis"},
		"classification at least":   {named: []string{"laptop", "mis"}, match: securityv1alpha1.AssetMatch{ClassificationAtLeast: securityv1alpha1.ClassificationConfidential}, matched: "mis"},
		"classification too low":    {named: []string{"laptop"}, match: securityv1alpha1.AssetMatch{ClassificationAtLeast: securityv1alpha1.ClassificationConfidential}},
		"holds personal data":       {named: []string{"laptop", "mis"}, match: securityv1alpha1.AssetMatch{HoldsPersonalData: ptr.To(true)}, matched: "mis"},
		"business critical":         {named: []string{"laptop", "mis"}, match: securityv1alpha1.AssetMatch{BusinessCritical: ptr.To(true)}, matched: "mis"},
		"not business critical":     {named: []string{"mis", "laptop"}, match: securityv1alpha1.AssetMatch{BusinessCritical: ptr.To(false)}, matched: "laptop"},
		"every condition on the same asset": {
			named: []string{"laptop", "mis"},
			match: securityv1alpha1.AssetMatch{Suppliers: []string{"Dell"}, BusinessCritical: ptr.To(true)},
		},
		"an asset that does not exist": {named: []string{"ghost"}, match: securityv1alpha1.AssetMatch{}},
		"no assets named":              {match: securityv1alpha1.AssetMatch{Types: []securityv1alpha1.AssetType{securityv1alpha1.AssetLaptop}}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			inc := incident(func(i *securityv1alpha1.Incident) { i.Spec.Assets = tc.named })
			p := policy("by-asset", 10, true, securityv1alpha1.PolicyMatch{Assets: &tc.match})
			d := RouteWithAssets(inc, assets, []Policy{Prepare(p, NewExpressionCache())})
			if got := d.MatchedAssets["by-asset"]; got != tc.matched {
				t.Errorf("matched asset %q, want %q", got, tc.matched)
			}
			if routed := len(d.Matched) == 1; routed != (tc.matched != "") {
				t.Errorf("routed = %v, want %v", routed, tc.matched != "")
			}
			// Without the assets, a policy that matches on them matches nothing.
			if d := RouteSorted(inc, []Policy{Prepare(p, NewExpressionCache())}); len(d.Matched) != 0 {
				t.Error("matched without the assets")
			}
		})
	}
}

// Expressions see the incident's assets, typed by the Asset CRD's schema.
func TestExpressionOverAssets(t *testing.T) {
	mis := &securityv1alpha1.Asset{ObjectMeta: metav1.ObjectMeta{Name: "mis"}, Spec: securityv1alpha1.AssetSpec{
		Type: securityv1alpha1.AssetApplication, BusinessCritical: true,
		Supplier: &securityv1alpha1.Supplier{Name: "Capita", ContactVia: securityv1alpha1.ContactNamedContact}}}
	assets := map[string]*securityv1alpha1.Asset{"mis": mis}
	cases := map[string]struct {
		expression string
		named      []string
		match      bool
		invalid    string
	}{
		"a business-critical asset":       {expression: `assets.exists(a, a.spec.?businessCritical.orValue(false))`, named: []string{"mis"}, match: true},
		"by supplier and contact":         {expression: `assets.exists(a, a.spec.?supplier.name.orValue("") == "Capita" && a.spec.supplier.contactVia == "NamedContact")`, named: []string{"mis"}, match: true},
		"by name":                         {expression: `assets.exists(a, a.metadata.name == "mis")`, named: []string{"mis"}, match: true},
		"none named":                      {expression: `assets.exists(a, a.spec.?businessCritical.orValue(false))`},
		"a named asset that is not there": {expression: `assets.size() == 0`, named: []string{"ghost"}, match: true},
		"a field assets do not have":      {expression: `assets.exists(a, a.spec.colour == "red")`, invalid: "undefined field 'colour'"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := ValidateExpression(tc.expression)
			if tc.invalid != "" {
				if err == nil || !strings.Contains(err.Error(), tc.invalid) {
					t.Fatalf("ValidateExpression: %v, want %q", err, tc.invalid)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			inc := incident(func(i *securityv1alpha1.Incident) { i.Spec.Assets = tc.named })
			p := policy("cel", 10, true, securityv1alpha1.PolicyMatch{Expression: tc.expression})
			d := RouteWithAssets(inc, assets, []Policy{Prepare(p, NewExpressionCache())})
			if len(d.Skipped) > 0 {
				t.Fatalf("skipped: %v", d.Skipped[0].Reason)
			}
			if got := len(d.Matched) == 1; got != tc.match {
				t.Errorf("matched = %v, want %v", got, tc.match)
			}
		})
	}
}
