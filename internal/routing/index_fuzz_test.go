package routing

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// FuzzIndex routes a random incident through a random policy set twice, by
// the index and by every policy in order, and fails unless the Decisions
// are the same in every part: what matched, with which asset, and what was
// skipped or matched unevaluated, with the same reasons. It also checks
// that every policy the index leaves out matches nothing and reports
// nothing on its own, and that `kubectl incident why` (Explain) says
// routed exactly the policies the index routed.
func FuzzIndex(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	random := rand.New(rand.NewPCG(1, 2))
	for range 40 {
		seed := make([]byte, 64+random.IntN(2000))
		for i := range seed {
			seed[i] = byte(random.Uint32())
		}
		f.Add(seed)
	}
	vocabulary := newFuzzVocabulary(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		d := &draw{data: data}
		inc, assets := vocabulary.incident(d)
		ordered := Sort(vocabulary.policies(d))
		index := NewIndex(ordered)

		want := RouteWithAssets(inc, assets, ordered)
		got := index.Route(inc, assets)
		if diff := decisionDiff(got, want); diff != "" {
			t.Fatalf("the index routes differently from every policy in order: %s\nincident %+v\npolicies %s", diff, inc.Spec, describePolicies(ordered))
		}

		candidates := index.Candidates(inc, assets)
		for i := range ordered {
			if slices.Contains(candidates, i) {
				continue
			}
			if alone := RouteWithAssets(inc, assets, ordered[i:i+1]); decisionDiff(alone, Decision{}) != "" {
				t.Fatalf("the index leaves out %s, which on its own decides %+v", ordered[i].Name, alone)
			}
		}

		explained := Explain(inc, assets, ordered)
		var routed []string
		for _, e := range explained {
			if e.Routed {
				routed = append(routed, e.Name)
			}
		}
		if !slices.Equal(routed, names(got.Matched)) {
			t.Fatalf("why says routed %v, the index routed %v", routed, names(got.Matched))
		}
	})
}

// decisionDiff says how two Decisions differ, "" when they do not. Reasons
// are compared by their text: an expression's error is made anew by each
// evaluation.
func decisionDiff(got, want Decision) string {
	if !reflect.DeepEqual(got.Matched, want.Matched) {
		return fmt.Sprintf("matched %v, want %v", names(got.Matched), names(want.Matched))
	}
	if !reflect.DeepEqual(got.MatchedAssets, want.MatchedAssets) {
		return fmt.Sprintf("matched assets %v, want %v", got.MatchedAssets, want.MatchedAssets)
	}
	if g, w := skippedText(got.Skipped), skippedText(want.Skipped); !slices.Equal(g, w) {
		return fmt.Sprintf("skipped %q, want %q", g, w)
	}
	if g, w := skippedText(got.Unevaluated), skippedText(want.Unevaluated); !slices.Equal(g, w) {
		return fmt.Sprintf("unevaluated %q, want %q", g, w)
	}
	return ""
}

func skippedText(skipped []Skipped) []string {
	var out []string
	for _, s := range skipped {
		out = append(out, s.Policy+": "+s.Reason.Error())
	}
	return out
}

func describePolicies(ordered []Policy) string {
	var out string
	for _, p := range ordered {
		out += fmt.Sprintf("\n  %s %s priority %d continue %t protected %t invalid %v match %+v", p.Kind, p.Name, p.Priority, p.Continue, p.Protected, p.Invalid, p.Match)
	}
	return out
}

// draw hands out the fuzzer's bytes as choices; zero once they run out.
type draw struct{ data []byte }

func (d *draw) byte() byte {
	if len(d.data) == 0 {
		return 0
	}
	b := d.data[0]
	d.data = d.data[1:]
	return b
}

func (d *draw) intn(n int) int { return int(d.byte()) % n }
func (d *draw) chance(in int) bool {
	return d.intn(in) == 0
}

func pick[T any](d *draw, from []T) T { return from[d.intn(len(from))] }

// some is a subset of from, each element kept with the byte's bit.
func some[T any](d *draw, from []T) []T {
	bits := d.byte()
	var out []T
	for i, v := range from {
		if bits&(1<<(i%8)) != 0 {
			out = append(out, v)
		}
	}
	return out
}

// fuzzVocabulary is the few values policies and incidents are drawn from,
// few enough that clauses often hold, with the expressions compiled once.
type fuzzVocabulary struct {
	expressions []fuzzExpression
}

type fuzzExpression struct {
	source string
	expr   *Expression
	err    error
}

func newFuzzVocabulary(f *testing.F) *fuzzVocabulary {
	v := &fuzzVocabulary{}
	for _, source := range []string{
		`true`,
		`false`,
		// Fails on an incident without dataSubjects.
		`incident.spec.impact.dataSubjects > 100`,
		`incident.spec.impact.?dataSubjects.orValue(0) > 10`,
		// Fails on an incident without the label.
		`incident.metadata.labels['team'] == 'a'`,
		`assets.exists(a, a.spec.type == 'Server')`,
		`incident.spec.severity == 'High' || incident.spec.category == 'Theft'`,
		// Does not compile: the policy is Invalid.
		`incident.spec.(`,
	} {
		x, err := CompileExpression(source)
		v.expressions = append(v.expressions, fuzzExpression{source: source, expr: x, err: err})
	}
	if v.expressions[len(v.expressions)-1].err == nil {
		f.Fatal("the broken expression compiles")
	}
	return v
}

var (
	fuzzSeverities = []securityv1alpha1.Severity{securityv1alpha1.SeverityLow, securityv1alpha1.SeverityMedium, securityv1alpha1.SeverityHigh, securityv1alpha1.SeverityCritical}
	fuzzCategories = []securityv1alpha1.IncidentCategory{securityv1alpha1.CategoryLoss, securityv1alpha1.CategoryTheft, securityv1alpha1.CategoryMalware, securityv1alpha1.CategoryPhishing, securityv1alpha1.CategoryOther}
	fuzzTypes      = []securityv1alpha1.IncidentType{securityv1alpha1.TypeIncident, securityv1alpha1.TypeWeakness}
	fuzzAssetTypes = []securityv1alpha1.AssetType{securityv1alpha1.AssetLaptop, securityv1alpha1.AssetServer, securityv1alpha1.AssetApplication}
	fuzzSuppliers  = []string{"Dell", "Capita"}
	fuzzLabelKeys  = []string{"team", "env", "tier"}
	fuzzLabelVals  = []string{"a", "b", "c"}
	fuzzAssetNames = []string{"laptop", "mis", "server", "ghost"}
	fuzzOperators  = []metav1.LabelSelectorOperator{metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn, metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist}
	// fuzzImpact sets each flag of ImpactMatch and of Impact, in
	// ImpactFlagFields' order.
	fuzzImpact = []struct {
		want func(*securityv1alpha1.ImpactMatch, *bool)
		got  func(*securityv1alpha1.Impact, bool)
	}{
		{func(m *securityv1alpha1.ImpactMatch, b *bool) { m.PersonalData = b }, func(i *securityv1alpha1.Impact, b bool) { i.PersonalData = b }},
		{func(m *securityv1alpha1.ImpactMatch, b *bool) { m.SpecialCategoryData = b }, func(i *securityv1alpha1.Impact, b bool) { i.SpecialCategoryData = b }},
		{func(m *securityv1alpha1.ImpactMatch, b *bool) { m.SocialCare = b }, func(i *securityv1alpha1.Impact, b bool) { i.SocialCare = b }},
		{func(m *securityv1alpha1.ImpactMatch, b *bool) { m.ITRelated = b }, func(i *securityv1alpha1.Impact, b bool) { i.ITRelated = b }},
		{func(m *securityv1alpha1.ImpactMatch, b *bool) { m.ServiceAffecting = b }, func(i *securityv1alpha1.Impact, b bool) { i.ServiceAffecting = b }},
		{func(m *securityv1alpha1.ImpactMatch, b *bool) { m.BusinessCritical = b }, func(i *securityv1alpha1.Impact, b bool) { i.BusinessCritical = b }},
		{func(m *securityv1alpha1.ImpactMatch, b *bool) { m.SecurityBreach = b }, func(i *securityv1alpha1.Impact, b bool) { i.SecurityBreach = b }},
	}
)

// incident draws an incident and the Assets that exist of those it may
// name.
func (v *fuzzVocabulary) incident(d *draw) (*securityv1alpha1.Incident, map[string]*securityv1alpha1.Asset) {
	inc := incident(func(i *securityv1alpha1.Incident) {
		i.Labels = nil
		i.Spec.Severity = pick(d, fuzzSeverities)
		i.Spec.Category = pick(d, fuzzCategories)
		// The empty type is read as Incident.
		i.Spec.Type = pick(d, append([]securityv1alpha1.IncidentType{""}, fuzzTypes...))
		i.Spec.Impact = securityv1alpha1.Impact{}
		flags := d.byte()
		for n, f := range fuzzImpact {
			f.got(&i.Spec.Impact, flags&(1<<n) != 0)
		}
		if d.chance(2) {
			i.Spec.Impact.DataSubjects = ptr.To(int32(d.intn(200)))
		}
		for _, key := range fuzzLabelKeys {
			if !d.chance(3) {
				continue
			}
			if i.Labels == nil {
				i.Labels = map[string]string{}
			}
			i.Labels[key] = pick(d, fuzzLabelVals)
		}
		i.Spec.Assets = some(d, fuzzAssetNames)
	})
	assets := map[string]*securityv1alpha1.Asset{}
	for _, name := range fuzzAssetNames[:3] {
		if d.chance(4) {
			continue
		}
		a := &securityv1alpha1.Asset{ObjectMeta: metav1.ObjectMeta{Namespace: inc.Namespace, Name: name},
			Spec: securityv1alpha1.AssetSpec{Type: pick(d, fuzzAssetTypes), DataClassification: securityv1alpha1.ClassificationInternal, BusinessCritical: d.chance(2)}}
		if d.chance(2) {
			a.Spec.Supplier = &securityv1alpha1.Supplier{Name: pick(d, fuzzSuppliers)}
		}
		assets[name] = a
	}
	return inc, assets
}

// policies draws up to 150 policies, more than two words of the index's
// bitsets, of both kinds, some protected, some that cannot be evaluated.
func (v *fuzzVocabulary) policies(d *draw) []Policy {
	n := 1 + d.intn(150)
	cache := NewExpressionCache()
	out := make([]Policy, 0, n)
	for i := range n {
		var m securityv1alpha1.PolicyMatch
		clauses := d.byte()
		if clauses&1 != 0 {
			m.Severities = some(d, fuzzSeverities)
		}
		if clauses&2 != 0 {
			m.Categories = some(d, fuzzCategories)
		}
		if clauses&4 != 0 {
			m.Types = some(d, fuzzTypes)
		}
		if clauses&8 != 0 {
			m.Impact = &securityv1alpha1.ImpactMatch{}
			for _, f := range fuzzImpact {
				switch d.intn(3) {
				case 1:
					f.want(m.Impact, ptr.To(true))
				case 2:
					f.want(m.Impact, ptr.To(false))
				}
			}
		}
		if clauses&16 != 0 {
			m.Selector = v.selector(d)
		}
		if clauses&32 != 0 {
			m.Assets = &securityv1alpha1.AssetMatch{Types: some(d, fuzzAssetTypes), Suppliers: some(d, fuzzSuppliers)}
			if d.chance(3) {
				m.Assets.BusinessCritical = ptr.To(d.chance(2))
			}
		}
		var x *fuzzExpression
		if clauses&64 != 0 {
			x = &v.expressions[d.intn(len(v.expressions))]
		}
		obj := policy(fmt.Sprintf("p%03d", i), int32(d.intn(5)-2), d.chance(2), m)
		var p Policy
		if clauses&128 != 0 {
			cluster := &securityv1alpha1.ClusterEscalationPolicy{ObjectMeta: obj.ObjectMeta, Spec: securityv1alpha1.ClusterEscalationPolicySpec{EscalationPolicySpec: obj.Spec, Protected: d.chance(2)}}
			cluster.Namespace = ""
			p = PrepareCluster(cluster, cache)
		} else {
			p = Prepare(obj, cache)
		}
		// The expressions are compiled once, not for every policy: set
		// them as Prepare would.
		if x != nil {
			p.Match.Expression = x.source
			if p.Invalid == nil {
				p.Expression = x.expr
				if x.err != nil {
					p.Invalid = fmt.Errorf("spec.match.expression: %w", x.err)
				}
			}
		}
		out = append(out, p)
	}
	return out
}

func (v *fuzzVocabulary) selector(d *draw) *metav1.LabelSelector {
	s := &metav1.LabelSelector{}
	for range d.intn(3) {
		if s.MatchLabels == nil {
			s.MatchLabels = map[string]string{}
		}
		s.MatchLabels[pick(d, fuzzLabelKeys)] = pick(d, fuzzLabelVals)
	}
	for range d.intn(3) {
		r := metav1.LabelSelectorRequirement{Key: pick(d, fuzzLabelKeys), Operator: pick(d, fuzzOperators)}
		if d.chance(16) {
			// Does not parse: the policy is Invalid.
			r.Operator = "Near"
		}
		if r.Operator == metav1.LabelSelectorOpIn || r.Operator == metav1.LabelSelectorOpNotIn || d.chance(8) {
			r.Values = some(d, fuzzLabelVals)
		}
		s.MatchExpressions = append(s.MatchExpressions, r)
	}
	return s
}
