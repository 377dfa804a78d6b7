package routing

import (
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

func clusterPolicy(name string, priority int32, cont, protected bool, selector *metav1.LabelSelector) *securityv1alpha1.ClusterEscalationPolicy {
	return &securityv1alpha1.ClusterEscalationPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 1},
		Spec: securityv1alpha1.ClusterEscalationPolicySpec{
			EscalationPolicySpec: securityv1alpha1.EscalationPolicySpec{Priority: priority, Continue: cont},
			NamespaceSelector:    selector,
			Protected:            protected,
		},
	}
}

// TestRouteProtected: a namespace's policy that matches with continue:
// false stops the policies after it, except the protected cluster ones.
func TestRouteProtected(t *testing.T) {
	all := securityv1alpha1.PolicyMatch{}
	cache := NewExpressionCache()
	cases := map[string]struct {
		namespaced []*securityv1alpha1.EscalationPolicy
		cluster    []*securityv1alpha1.ClusterEscalationPolicy
		want       []string
	}{
		"a department's stop does not stop a protected cluster policy": {
			namespaced: []*securityv1alpha1.EscalationPolicy{policy("finance-only", 500, false, all)},
			cluster:    []*securityv1alpha1.ClusterEscalationPolicy{clusterPolicy("internal-audit", 100, true, true, nil)},
			want:       []string{"finance-only", "internal-audit"},
		},
		"a department's stop stops an unprotected cluster policy": {
			namespaced: []*securityv1alpha1.EscalationPolicy{policy("finance-only", 500, false, all)},
			cluster:    []*securityv1alpha1.ClusterEscalationPolicy{clusterPolicy("service-desk", 100, true, false, nil)},
			want:       []string{"finance-only"},
		},
		"a protected policy evaluated after a stop does not let the others through": {
			namespaced: []*securityv1alpha1.EscalationPolicy{policy("finance-only", 500, false, all), policy("finance-later", 0, true, all)},
			cluster: []*securityv1alpha1.ClusterEscalationPolicy{
				clusterPolicy("internal-audit", 100, true, true, nil), clusterPolicy("service-desk", 50, true, false, nil),
			},
			want: []string{"finance-only", "internal-audit"},
		},
		"one ordering by priority across both kinds": {
			namespaced: []*securityv1alpha1.EscalationPolicy{policy("b-department", 50, true, all), policy("d-department", 10, true, all)},
			cluster: []*securityv1alpha1.ClusterEscalationPolicy{
				clusterPolicy("a-council", 100, true, false, nil), clusterPolicy("c-council", 50, true, false, nil),
			},
			want: []string{"a-council", "b-department", "c-council", "d-department"},
		},
		"a cluster policy may stop the namespace's": {
			namespaced: []*securityv1alpha1.EscalationPolicy{policy("department", 10, true, all)},
			cluster:    []*securityv1alpha1.ClusterEscalationPolicy{clusterPolicy("council-stop", 100, false, false, nil)},
			want:       []string{"council-stop"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var prepared []Policy
			for _, p := range tc.cluster {
				prepared = append(prepared, PrepareCluster(p, cache))
			}
			for _, p := range tc.namespaced {
				prepared = append(prepared, Prepare(p, cache))
			}
			d := Route(incident(nil), prepared)
			if got := names(d.Matched); !slices.Equal(got, tc.want) {
				t.Errorf("matched %v, want %v", got, tc.want)
			}
			for _, m := range d.Matched {
				isCluster := slices.ContainsFunc(tc.cluster, func(c *securityv1alpha1.ClusterEscalationPolicy) bool { return c.Name == m.Name })
				if isCluster != (m.Kind == securityv1alpha1.KindClusterEscalationPolicy) {
					t.Errorf("%s has kind %q", m.Name, m.Kind)
				}
			}
		})
	}
}

func TestForNamespace(t *testing.T) {
	finance := map[string]string{"kubernetes.io/metadata.name": "finance", "council.example/scope": "council"}
	outsider := map[string]string{"kubernetes.io/metadata.name": "outsider"}
	councilOnly := &metav1.LabelSelector{MatchLabels: map[string]string{"council.example/scope": "council"}}
	broken := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "a", Operator: "Sometimes"}}}
	deleting := clusterPolicy("leaving", 0, true, false, nil)
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)}

	cluster := []*securityv1alpha1.ClusterEscalationPolicy{
		clusterPolicy("everywhere", 0, true, false, nil),
		clusterPolicy("council-wide", 0, true, true, councilOnly),
		clusterPolicy("broken", 0, true, false, broken),
		deleting,
	}
	namespaced := []*securityv1alpha1.EscalationPolicy{policy("own", 0, true, securityv1alpha1.PolicyMatch{}), policy("council-wide", 0, true, securityv1alpha1.PolicyMatch{})}

	c := ForNamespace(finance, cluster, namespaced)
	if got := clusterNames(c.Cluster); !slices.Equal(got, []string{"everywhere", "council-wide"}) {
		t.Errorf("finance gets cluster policies %v", got)
	}
	if len(c.Namespaced) != 1 || c.Namespaced[0].Name != "own" {
		t.Errorf("finance keeps its policies %v, want only own: council-wide's name is taken", c.Namespaced)
	}
	excluded := map[string]string{}
	for _, e := range c.Excluded {
		excluded[e.Kind+"/"+e.Name] = e.Reason
	}
	if r := excluded["EscalationPolicy/council-wide"]; !strings.Contains(r, "ClusterEscalationPolicy council-wide") {
		t.Errorf("the shadowed policy's reason is %q", r)
	}
	if r := excluded["ClusterEscalationPolicy/broken"]; !strings.Contains(r, "spec.namespaceSelector") {
		t.Errorf("the broken selector's reason is %q", r)
	}
	if len(excluded) != 2 {
		t.Errorf("excluded %v, want the shadowed and the broken policy", excluded)
	}

	c = ForNamespace(outsider, cluster, namespaced)
	if got := clusterNames(c.Cluster); !slices.Equal(got, []string{"everywhere"}) {
		t.Errorf("outsider gets cluster policies %v", got)
	}
	if len(c.Namespaced) != 2 {
		t.Errorf("outsider keeps %d of its 2 policies: no cluster policy of its takes their names", len(c.Namespaced))
	}
}

func clusterNames(ps []*securityv1alpha1.ClusterEscalationPolicy) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

// A protected cluster policy whose expression cannot be evaluated on an
// incident routes it all the same, reported as Unevaluated: it is never
// skipped. An unprotected one in the same state is skipped, and neither
// stops the policies after it.
func TestProtectedPolicyThatCannotBeEvaluatedStillRoutes(t *testing.T) {
	cache := NewExpressionCache()
	failing := securityv1alpha1.PolicyMatch{Expression: `incident.spec.assets[5] == "x"`}
	dpo := clusterPolicy("dpo", 100, true, true, nil)
	dpo.Spec.Match = failing
	desk := clusterPolicy("desk", 90, true, false, nil)
	desk.Spec.Match = failing
	broken := clusterPolicy("audit", 80, true, true, nil)
	broken.Spec.Match = securityv1alpha1.PolicyMatch{Expression: `incident.spec.nosuchfield`}
	prepared := []Policy{PrepareCluster(dpo, cache), PrepareCluster(desk, cache), PrepareCluster(broken, cache), Prepare(policy("department", 0, true, securityv1alpha1.PolicyMatch{}), cache)}
	d := Route(incident(nil), prepared)
	if got, want := names(d.Matched), []string{"dpo", "audit", "department"}; !slices.Equal(got, want) {
		t.Errorf("matched %v, want %v", got, want)
	}
	var unevaluated, skipped []string
	for _, u := range d.Unevaluated {
		unevaluated = append(unevaluated, u.Policy)
	}
	for _, s := range d.Skipped {
		skipped = append(skipped, s.Policy)
	}
	if !slices.Equal(unevaluated, []string{"dpo", "audit"}) || !slices.Equal(skipped, []string{"desk"}) {
		t.Errorf("unevaluated %v, skipped %v; want [dpo audit] and [desk]", unevaluated, skipped)
	}
}
