package routing

import (
	"math/bits"
	"strconv"

	"k8s.io/apimachinery/pkg/selection"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Index is an ordered policy set with, for every field of the incident that
// a clause compares by equality or membership (severity, category, type,
// each impact flag, the labels a selector asks for by value, the types of
// the incident's assets), which policies accept each value. Route judges
// only the candidates: the policies whose indexed clauses can all hold.
//
// Its Decision is the one RouteWithAssets gives on every policy. A policy
// the index leaves out has a clause that does not hold; judge stops at that
// clause before it reaches the expression, the only clause that can fail
// to evaluate, so the policy would have been neither matched nor reported.
// The candidates come in evaluation order, so which policy stops the
// others, and the order of everything the Decision lists, are the same. A
// policy that cannot be evaluated (Invalid) is reported whatever the
// incident, so it is always a candidate, as is every policy whose clauses
// constrain nothing indexed. FuzzIndex fails should a clause that can fail
// to evaluate ever be judged before one the index reads.
//
// An Index is read-only once built and safe for concurrent use.
type Index struct {
	ordered []Policy
	fields  []indexedField
	assets  indexedAssets
	// protected are the policies still considered after a policy that does
	// not continue matched.
	protected bitset
}

// bitset holds one bit per policy, by its place in evaluation order.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) set(i int)      { b[i/64] |= 1 << (i % 64) }
func (b bitset) unset(i int)    { b[i/64] &^= 1 << (i % 64) }
func (b bitset) has(i int) bool { return b[i/64]&(1<<(i%64)) != 0 }
func (b bitset) fill(n int) bitset {
	for i := range b {
		b[i] = ^uint64(0)
	}
	if r := n % 64; r != 0 {
		b[len(b)-1] = 1<<r - 1
	}
	return b
}

// indexedField is one single-valued field of the incident: the policies
// that do not constrain it, and, by value, the policies that accept it.
type indexedField struct {
	// value is the incident's value of the field; false when it has none,
	// as when it does not carry the label.
	value  func(*securityv1alpha1.Incident) (string, bool)
	open   bitset
	accept map[string]bitset
}

// indexedAssets is the assets clause, which holds only for an incident
// naming an Asset that exists; by asset type when the clause asks for
// types.
type indexedAssets struct {
	open bitset
	// anyType are the policies whose assets clause asks for no type.
	anyType bitset
	byType  map[securityv1alpha1.AssetType]bitset
}

// NewIndex indexes policies in evaluation order, as Sort leaves them. The
// Index keeps the slice: it must not be changed afterwards.
func NewIndex(ordered []Policy) *Index {
	n := len(ordered)
	x := &Index{ordered: ordered, protected: newBitset(n)}
	b := indexBuilder{n: n, fields: map[string]*indexedField{}}
	x.assets = indexedAssets{open: newBitset(n).fill(n), anyType: newBitset(n), byType: map[securityv1alpha1.AssetType]bitset{}}
	for i := range ordered {
		p := &ordered[i]
		if p.Protected {
			x.protected.set(i)
		}
		if p.Invalid != nil {
			continue
		}
		m := &p.Match
		constrain(&b, "severities", i, m.Severities, incidentSeverity)
		constrain(&b, "categories", i, m.Categories, incidentCategory)
		constrain(&b, "types", i, m.Types, incidentType)
		if m.Impact != nil {
			for fi, f := range securityv1alpha1.ImpactFlagFields {
				if want := f.Want(m.Impact); want != nil {
					flag := &incidentImpact[fi]
					constrain(&b, flag.field, i, flag.wanted[*want], flag.value)
				}
			}
		}
		if m.Selector != nil && p.Selector != nil {
			b.selector(i, p)
		}
		if a := m.Assets; a != nil {
			x.assets.open.unset(i)
			if len(a.Types) == 0 {
				x.assets.anyType.set(i)
			}
			for _, t := range a.Types {
				if x.assets.byType[t] == nil {
					x.assets.byType[t] = newBitset(n)
				}
				x.assets.byType[t].set(i)
			}
		}
	}
	for _, key := range b.order {
		x.fields = append(x.fields, *b.fields[key])
	}
	return x
}

// indexBuilder gathers the fields as the policies constrain them, in the
// order first met.
type indexBuilder struct {
	n      int
	fields map[string]*indexedField
	order  []string
}

// The incident's values of the fields the index knows from the start.
var (
	incidentSeverity = func(in *securityv1alpha1.Incident) (string, bool) { return string(in.Spec.Severity), true }
	incidentCategory = func(in *securityv1alpha1.Incident) (string, bool) { return string(in.Spec.Category), true }
	incidentType     = func(in *securityv1alpha1.Incident) (string, bool) { return string(in.IncidentType()), true }
	// incidentImpact reads each flag of ImpactFlagFields, in its order.
	incidentImpact = func() []impactFlag {
		var out []impactFlag
		for _, f := range securityv1alpha1.ImpactFlagFields {
			out = append(out, impactFlag{
				field:  "impact." + f.Name,
				wanted: map[bool][]string{false: {"false"}, true: {"true"}},
				value: func(in *securityv1alpha1.Incident) (string, bool) {
					return strconv.FormatBool(f.Got(&in.Spec.Impact)), true
				},
			})
		}
		return out
	}()
)

// impactFlag is an impact flag as the index keys it: by "true" or "false".
type impactFlag struct {
	field  string
	wanted map[bool][]string
	value  func(*securityv1alpha1.Incident) (string, bool)
}

// constrain records that policy i accepts only the given values of the
// field named key, which value reads from an incident.
func constrain[T ~string](b *indexBuilder, key string, i int, values []T, value func(*securityv1alpha1.Incident) (string, bool)) {
	if len(values) == 0 {
		return
	}
	f := b.fields[key]
	if f == nil {
		f = &indexedField{value: value, open: newBitset(b.n).fill(b.n), accept: map[string]bitset{}}
		b.fields[key] = f
		b.order = append(b.order, key)
	}
	if !f.open.has(i) {
		// Already constrained by this policy; the first constraint is a
		// superset of what the policy accepts, which is all an index needs.
		return
	}
	f.open.unset(i)
	for _, v := range values {
		a := f.accept[string(v)]
		if a == nil {
			a = newBitset(b.n)
			f.accept[string(v)] = a
		}
		a.set(i)
	}
}

// selector indexes the requirements of p's selector that ask for a label
// by value (=, ==, in): the incident must carry the label with one of the
// values. The other operators are left to judge.
func (b *indexBuilder) selector(i int, p *Policy) {
	requirements, selectable := p.Selector.Requirements()
	if !selectable {
		return
	}
	for _, r := range requirements {
		switch r.Operator() {
		case selection.Equals, selection.DoubleEquals, selection.In:
		default:
			continue
		}
		key := r.Key()
		field := "label:" + key
		var value func(*securityv1alpha1.Incident) (string, bool)
		if b.fields[field] == nil {
			value = func(in *securityv1alpha1.Incident) (string, bool) {
				v, ok := in.Labels[key]
				return v, ok
			}
		}
		constrain(b, field, i, r.Values().UnsortedList(), value)
	}
}

// Policies are the indexed policies, in evaluation order.
func (x *Index) Policies() []Policy { return x.ordered }

// Candidates are the places in Policies, in evaluation order, of the
// policies that may match the incident: those whose indexed clauses can all
// hold.
func (x *Index) Candidates(incident *securityv1alpha1.Incident, assets map[string]*securityv1alpha1.Asset) []int {
	c := x.candidates(incident, assets, newBitset(len(x.ordered)))
	var out []int
	for w, word := range c {
		for word != 0 {
			out = append(out, w*64+bits.TrailingZeros64(word))
			word &= word - 1
		}
	}
	return out
}

// candidates fills into, as long as the set, with the candidates.
func (x *Index) candidates(incident *securityv1alpha1.Incident, assets map[string]*securityv1alpha1.Asset, into bitset) bitset {
	into.fill(len(x.ordered))
	for fi := range x.fields {
		f := &x.fields[fi]
		var accept bitset
		if v, ok := f.value(incident); ok {
			accept = f.accept[v]
		}
		for w := range into {
			allowed := f.open[w]
			if accept != nil {
				allowed |= accept[w]
			}
			into[w] &= allowed
		}
	}
	// The assets clause: policies that have none, and, when the incident
	// names an Asset that exists, those that ask for any asset or for the
	// type of one it names.
	var kept [4]bitset
	also := kept[:0]
	for _, name := range incident.Spec.Assets {
		a := assets[name]
		if a == nil {
			continue
		}
		if len(also) == 0 {
			also = append(also, x.assets.anyType)
		}
		if byType := x.assets.byType[a.Spec.Type]; byType != nil {
			also = append(also, byType)
		}
	}
	for w := range into {
		allowed := x.assets.open[w]
		for _, b := range also {
			allowed |= b[w]
		}
		into[w] &= allowed
	}
	return into
}

// Route is RouteWithAssets on the indexed policies, judging only the
// candidates: the same Decision, for less work.
func (x *Index) Route(incident *securityv1alpha1.Incident, assets map[string]*securityv1alpha1.Asset) Decision {
	// Up to 256 policies, the candidates are kept on the stack.
	var small [4]uint64
	into := bitset(small[:])
	if words := (len(x.ordered) + 63) / 64; words <= len(small) {
		into = into[:words]
	} else {
		into = newBitset(len(x.ordered))
	}
	c := x.candidates(incident, assets, into)
	r := router{subject: subject{incident: incident, assets: assets}}
	for w, word := range c {
		for word != 0 {
			if r.stopped {
				word &= x.protected[w]
				if word == 0 {
					break
				}
			}
			r.consider(&x.ordered[w*64+bits.TrailingZeros64(word)])
			word &= word - 1
		}
	}
	return r.decision
}
