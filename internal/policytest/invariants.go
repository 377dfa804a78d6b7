package policytest

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/lifecycle"
	"github.com/incidentops/incident-operator/internal/policycheck"
	"github.com/incidentops/incident-operator/internal/routing"
)

// targetText names a target for people.
func targetText(t *Target) string {
	who := t.Receiver
	if t.Role != "" {
		who = "role " + string(t.Role)
	}
	if t.Policy != "" {
		who += " of " + t.Policy
	}
	if t.Level != nil {
		who += fmt.Sprintf(" at level %d", *t.Level)
	}
	return who
}

// tells is true when policy p's escalation tells t, or, for a major
// incident, its major receivers do (at level 0).
func tells(t *Target, p *securityv1alpha1.EscalationPolicy, major bool) bool {
	if t.Policy != "" && t.Policy != p.Name {
		return false
	}
	if major && p.Spec.Major != nil && (t.Level == nil || *t.Level == 0) {
		for _, n := range p.Spec.Major.Notify {
			if (t.Receiver != "" && n.Receiver == t.Receiver) || (t.Role != "" && n.Role == t.Role) {
				return true
			}
		}
	}
	for i, level := range p.Spec.Escalation.Levels {
		if t.Level != nil && int(*t.Level) != i {
			continue
		}
		for _, n := range level.Notify {
			if (t.Receiver != "" && n.Receiver == t.Receiver) || (t.Role != "" && n.Role == t.Role) {
				return true
			}
		}
	}
	return false
}

func checkInvariant(inv *Invariant, i int) error {
	field := fmt.Sprintf("spec.invariants[%d]", i)
	switch {
	case inv.Name == "":
		return fmt.Errorf("%s.name: required: say the rule", field)
	case (inv.Told == nil) == (inv.NeverTold == nil):
		return fmt.Errorf("%s (%s): give exactly one of told and neverTold", field, inv.Name)
	}
	for _, t := range []*Target{inv.Told, inv.NeverTold} {
		if t != nil && (t.Receiver == "") == (t.Role == "") {
			return fmt.Errorf("%s (%s): a target names exactly one of receiver and role", field, inv.Name)
		}
	}
	return nil
}

// Verdict is the outcome of checking one invariant.
type Verdict struct {
	Invariant *Invariant
	File      string
	// Incidents is how many incidents of the space the rule is about.
	Incidents int
	// Counterexample is an incident that breaks the rule, described,
	// with the policy that caused it; empty when it holds.
	Counterexample string
	Err            error
}

// Holds is true when the rule held for every incident.
func (v *Verdict) Holds() bool { return v.Err == nil && v.Counterexample == "" }

// Space is the incidents a policy set can tell apart.
type Space struct {
	Categories      []securityv1alpha1.IncidentCategory
	Severities      []securityv1alpha1.Severity
	Types           []securityv1alpha1.IncidentType
	Flags           []securityv1alpha1.ImpactFlagField
	DataSubjects    []*int32
	NamespaceLabels []map[string]string
	Labels          []map[string]string
	Assets          []*securityv1alpha1.Asset
}

// Size is how many incidents the space holds.
func (s *Space) Size() int {
	return len(s.Categories) * len(s.Severities) * len(s.Types) * (1 << len(s.Flags)) * len(s.DataSubjects) *
		len(s.NamespaceLabels) * len(s.Labels) * len(s.Assets)
}

// SpaceOf is every incident the policies and invariants can tell apart:
// every category, severity and type; every impact flag some policy, regime
// or invariant reads (an expression may read any), crossed with the
// namespace labels cluster policies select, the incident labels policies
// select, an asset meeting each policy's assets clause, and the boundary
// values of the numbers expressions compare.
func SpaceOf(objects *Objects, invariants []Invariant) *Space {
	s := &Space{
		Categories: securityv1alpha1.IncidentCategories,
		Severities: securityv1alpha1.Severities,
		Types:      securityv1alpha1.IncidentTypes,
	}
	all := objects.all()
	expressions := false
	read := map[string]bool{}
	matches := []*securityv1alpha1.PolicyMatch{}
	for _, p := range all {
		matches = append(matches, &p.Spec.Match)
		if p.Spec.Major != nil && len(p.Spec.Major.Notify) > 0 {
			// Major by default means Critical or service-affecting.
			read["serviceAffecting"] = true
		}
	}
	for i := range invariants {
		matches = append(matches, &invariants[i].When)
	}
	dataSubjects := map[int64]bool{}
	for _, m := range matches {
		if m.Impact != nil {
			for _, f := range securityv1alpha1.ImpactFlagFields {
				if f.Want(m.Impact) != nil {
					read[f.Name] = true
				}
			}
		}
		if m.Expression != "" {
			expressions = true
			for _, n := range numbers(m.Expression) {
				dataSubjects[n] = true
			}
		}
	}
	for _, f := range securityv1alpha1.ImpactFlagFields {
		if expressions || read[f.Name] {
			s.Flags = append(s.Flags, f)
		}
	}
	s.DataSubjects = []*int32{nil}
	for _, n := range slices.Sorted(maps.Keys(dataSubjects)) {
		for _, v := range []int64{n - 1, n, n + 1} {
			if v >= 0 && v <= 1<<31-1 && !slices.ContainsFunc(s.DataSubjects, func(d *int32) bool { return d != nil && int64(*d) == v }) {
				s.DataSubjects = append(s.DataSubjects, ptr(int32(v)))
			}
		}
	}
	s.NamespaceLabels = labelSets(clusterSelectors(objects))
	var selectors []*metav1.LabelSelector
	for _, p := range all {
		selectors = append(selectors, p.Spec.Match.Selector)
	}
	s.Labels = labelSets(selectors)
	s.Assets = []*securityv1alpha1.Asset{nil}
	for i, p := range all {
		if m := p.Spec.Match.Assets; m != nil {
			s.Assets = append(s.Assets, assetMeeting(m, i))
		}
	}
	return s
}

func ptr[T any](v T) *T { return &v }

// numbers are the integer constants of an expression.
func numbers(expression string) []int64 {
	var out []int64
	for _, field := range strings.FieldsFunc(expression, func(r rune) bool { return r < '0' || r > '9' }) {
		if n, err := strconv.ParseInt(field, 10, 64); err == nil {
			out = append(out, n)
		}
	}
	return out
}

func clusterSelectors(objects *Objects) []*metav1.LabelSelector {
	var out []*metav1.LabelSelector
	for _, p := range objects.ClusterPolicies {
		out = append(out, p.Spec.NamespaceSelector)
	}
	return out
}

// labelSets are the label sets that tell the selectors apart: none, each
// selector's labels alone, and all of them together.
func labelSets(selectors []*metav1.LabelSelector) []map[string]string {
	sets := []map[string]string{{}}
	union := map[string]string{}
	for _, sel := range selectors {
		if sel == nil || len(sel.MatchLabels) == 0 {
			continue
		}
		sets = append(sets, maps.Clone(sel.MatchLabels))
		maps.Copy(union, sel.MatchLabels)
	}
	if len(sets) > 2 {
		sets = append(sets, union)
	}
	// Each set once, in a stable order.
	seen := map[string]bool{}
	var out []map[string]string
	for _, set := range sets {
		key := fmt.Sprint(set)
		if !seen[key] {
			seen[key] = true
			out = append(out, set)
		}
	}
	return out
}

// assetMeeting is an asset that meets every condition of m.
func assetMeeting(m *securityv1alpha1.AssetMatch, i int) *securityv1alpha1.Asset {
	a := &securityv1alpha1.Asset{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("asset-%d", i)},
		Spec: securityv1alpha1.AssetSpec{Type: securityv1alpha1.AssetOther, Owner: securityv1alpha1.Contact{Name: "owner"},
			DataClassification: securityv1alpha1.ClassificationInternal}}
	if len(m.Types) > 0 {
		a.Spec.Type = m.Types[0]
	}
	if len(m.Suppliers) > 0 || m.ContactVia != "" {
		a.Spec.Supplier = &securityv1alpha1.Supplier{Name: "supplier", ContactVia: securityv1alpha1.ContactDirect}
		if len(m.Suppliers) > 0 {
			a.Spec.Supplier.Name = m.Suppliers[0]
		}
		if m.ContactVia != "" {
			a.Spec.Supplier.ContactVia = m.ContactVia
		}
	}
	if m.ClassificationAtLeast != "" {
		a.Spec.DataClassification = m.ClassificationAtLeast
	}
	if m.HoldsPersonalData != nil {
		a.Spec.HoldsPersonalData = *m.HoldsPersonalData
	}
	if m.BusinessCritical != nil {
		a.Spec.BusinessCritical = *m.BusinessCritical
	}
	return a
}

// all is every policy, cluster policies as the EscalationPolicy they act as.
func (o *Objects) all() []*securityv1alpha1.EscalationPolicy {
	var out []*securityv1alpha1.EscalationPolicy
	for _, p := range o.ClusterPolicies {
		out = append(out, p.AsEscalationPolicy())
	}
	return append(out, o.Policies...)
}

// Check goes through every incident of the space once, and judges every
// invariant on each: the first incident that breaks one is its
// counterexample. namespaces, when set, are the namespaces' labels to
// check in, instead of every label set the cluster policies tell apart:
// in the cluster, the PolicyTest's own namespace.
func Check(objects *Objects, invariants []Invariant, files []string, namespaces ...map[string]string) ([]Verdict, *Space, time.Duration) {
	start := time.Now()
	space := SpaceOf(objects, invariants)
	if len(namespaces) > 0 {
		space.NamespaceLabels = namespaces
	}
	verdicts := make([]Verdict, len(invariants))
	cache := routing.NewExpressionCache()
	whens := make([]routing.Policy, len(invariants))
	for i := range invariants {
		verdicts[i] = Verdict{Invariant: &invariants[i], File: files[i]}
		whens[i] = routing.Prepare(&securityv1alpha1.EscalationPolicy{ObjectMeta: metav1.ObjectMeta{Name: "when"},
			Spec: securityv1alpha1.EscalationPolicySpec{Match: invariants[i].When}}, cache)
		if err := whens[i].Invalid; err != nil {
			verdicts[i].Err = fmt.Errorf("when: %w", err)
		}
	}
	byName := map[string]*securityv1alpha1.EscalationPolicy{}
	for _, p := range objects.all() {
		byName[p.Name] = p
	}
	for _, nsLabels := range space.NamespaceLabels {
		ordered := routable(routing.ForNamespace(nsLabels, objects.ClusterPolicies, objects.Policies), cache, objects.environment())
		space.each(nsLabels, func(inc *securityv1alpha1.Incident, assets map[string]*securityv1alpha1.Asset) {
			var decision *routing.Decision
			for i := range invariants {
				inv, v := &invariants[i], &verdicts[i]
				if v.Err != nil || v.Counterexample != "" || !subset(inv.NamespaceLabels, nsLabels) {
					continue
				}
				if d := routing.RouteWithAssets(inc, assets, whens[i:i+1]); len(d.Matched) == 0 {
					continue
				}
				v.Incidents++
				if decision == nil {
					d := routing.RouteWithAssets(inc, assets, ordered)
					decision = &d
				}
				if broken := judge(inv, decision, byName, inc, assets, ordered); broken != "" {
					v.Counterexample = describeIncident(inc, nsLabels, assets) + "\n" + broken
				}
			}
		})
	}
	return verdicts, space, time.Since(start)
}

// routable are the candidates the operator would route with, prepared and
// in routing order.
func routable(candidates routing.Candidates, cache *routing.ExpressionCache, env policycheck.Environment) []routing.Policy {
	var ordered []routing.Policy
	for _, p := range candidates.Cluster {
		if reason, structural := policycheck.Verdict(p.AsEscalationPolicy(), env); reason == "" || policycheck.RoutesDespite(p.Spec.Protected, structural) {
			ordered = append(ordered, routing.PrepareCluster(p, cache))
		}
	}
	for _, p := range candidates.Namespaced {
		if reason, _ := policycheck.Verdict(p, env); reason == "" {
			ordered = append(ordered, routing.Prepare(p, cache))
		}
	}
	return routing.Sort(ordered)
}

// judge says how the routed incident breaks the invariant, naming the
// policy that caused it; "" when it does not.
func judge(inv *Invariant, d *routing.Decision, byName map[string]*securityv1alpha1.EscalationPolicy, inc *securityv1alpha1.Incident,
	assets map[string]*securityv1alpha1.Asset, ordered []routing.Policy) string {
	var routed []*securityv1alpha1.EscalationPolicy
	for _, m := range d.Matched {
		routed = append(routed, byName[m.Name])
	}
	major := lifecycle.MajorBecause(&inc.Spec, routed) != ""
	if t := inv.NeverTold; t != nil {
		for _, m := range d.Matched {
			if tells(t, byName[m.Name], major) {
				return fmt.Sprintf("%s %s routes it and tells %s", m.Kind, m.Name, targetText(t))
			}
		}
		return ""
	}
	t := inv.Told
	for _, m := range d.Matched {
		if tells(t, byName[m.Name], major) {
			return ""
		}
	}
	// Who would have told them, and why they did not.
	for _, e := range routing.Explain(inc, assets, ordered) {
		if !tells(t, byName[e.Name], false) {
			continue
		}
		if e.StoppedBy != "" {
			return fmt.Sprintf("%s would tell %s, but %s matched first and does not continue", e.Name, targetText(t), e.StoppedBy)
		}
		for _, c := range e.Clauses {
			if !c.Held {
				return fmt.Sprintf("%s tells %s, but does not match: spec.match.%s wants %s, the incident has %s", e.Name, targetText(t), c.Field, c.Want, c.Got)
			}
		}
	}
	var names []string
	for _, m := range d.Matched {
		names = append(names, m.Name)
	}
	return fmt.Sprintf("no policy that may route it tells %s; it is routed to %s", targetText(t), list(names))
}

func subset(want, have map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// each calls f with every incident of the space in namespace labels ns.
func (s *Space) each(ns map[string]string, f func(*securityv1alpha1.Incident, map[string]*securityv1alpha1.Asset)) {
	for _, category := range s.Categories {
		for _, severity := range s.Severities {
			for _, typ := range s.Types {
				for flags := range 1 << len(s.Flags) {
					for _, subjects := range s.DataSubjects {
						for _, labels := range s.Labels {
							for _, asset := range s.Assets {
								inc := &securityv1alpha1.Incident{
									ObjectMeta: metav1.ObjectMeta{Namespace: "space", Name: "incident", Labels: labels},
									Spec: securityv1alpha1.IncidentSpec{Title: "incident", Category: category, Severity: severity, Type: typ,
										Reporter: securityv1alpha1.Reporter{Contact: securityv1alpha1.Contact{Name: "reporter"}}},
								}
								inc.Spec.Impact.DataSubjects = subjects
								for i, flag := range s.Flags {
									if flags&(1<<i) != 0 {
										setFlag(&inc.Spec.Impact, flag.Name)
									}
								}
								var assets map[string]*securityv1alpha1.Asset
								if asset != nil {
									inc.Spec.Assets = []string{asset.Name}
									assets = map[string]*securityv1alpha1.Asset{asset.Name: asset}
								}
								f(inc, assets)
							}
						}
					}
				}
			}
		}
	}
}

func setFlag(impact *securityv1alpha1.Impact, name string) {
	switch name {
	case "personalData":
		impact.PersonalData = true
	case "specialCategoryData":
		impact.SpecialCategoryData = true
	case "socialCare":
		impact.SocialCare = true
	case "itRelated":
		impact.ITRelated = true
	case "serviceAffecting":
		impact.ServiceAffecting = true
	case "businessCritical":
		impact.BusinessCritical = true
	case "securityBreach":
		impact.SecurityBreach = true
	}
}

// describeIncident is a counterexample as a person reads it.
func describeIncident(inc *securityv1alpha1.Incident, ns map[string]string, assets map[string]*securityv1alpha1.Asset) string {
	var flags []string
	for _, f := range securityv1alpha1.ImpactFlagFields {
		if f.Got(&inc.Spec.Impact) {
			flags = append(flags, f.Name)
		}
	}
	sort.Strings(flags)
	parts := []string{fmt.Sprintf("%s %s %s", inc.Spec.Severity, inc.Spec.Category, inc.IncidentType())}
	parts = append(parts, "impact "+list(flags))
	if n := inc.Spec.Impact.DataSubjects; n != nil {
		parts = append(parts, fmt.Sprintf("dataSubjects %d", *n))
	}
	if len(inc.Labels) > 0 {
		parts = append(parts, "labels "+labelsText(inc.Labels))
	}
	parts = append(parts, "in a namespace labelled "+labelsText(ns))
	for _, a := range assets {
		supplier := ""
		if a.Spec.Supplier != nil {
			supplier = fmt.Sprintf(", supplier %s via %s", a.Spec.Supplier.Name, a.Spec.Supplier.ContactVia)
		}
		parts = append(parts, fmt.Sprintf("asset %s (%s, %s%s)", a.Name, a.Spec.Type, a.Spec.DataClassification, supplier))
	}
	return "counterexample: " + strings.Join(parts, ", ")
}

func labelsText(l map[string]string) string {
	if len(l) == 0 {
		return "(none)"
	}
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		kv = append(kv, k+"="+l[k])
	}
	return strings.Join(kv, ",")
}
