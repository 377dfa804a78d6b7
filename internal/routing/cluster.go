package routing

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// PrepareCluster turns a ClusterEscalationPolicy into a routing Policy.
func PrepareCluster(p *securityv1alpha1.ClusterEscalationPolicy, cache *ExpressionCache) Policy {
	out := Prepare(p.AsEscalationPolicy(), cache)
	out.Kind = securityv1alpha1.KindClusterEscalationPolicy
	out.Protected = p.Spec.Protected
	return out
}

// NamespaceSelector is the selector of the namespaces a cluster policy
// applies to; every namespace when it sets none.
func NamespaceSelector(p *securityv1alpha1.ClusterEscalationPolicy) (labels.Selector, error) {
	if p.Spec.NamespaceSelector == nil {
		return labels.Everything(), nil
	}
	sel, err := metav1.LabelSelectorAsSelector(p.Spec.NamespaceSelector)
	if err != nil {
		return nil, fmt.Errorf("spec.namespaceSelector: %w", err)
	}
	return sel, nil
}

// Candidates are the policies that may route a namespace's incidents.
type Candidates struct {
	// Cluster are the cluster policies that apply to the namespace.
	Cluster []*securityv1alpha1.ClusterEscalationPolicy
	// Namespaced are the namespace's own policies that may route.
	Namespaced []*securityv1alpha1.EscalationPolicy
	// Excluded are policies that cannot route the namespace's incidents,
	// each with the reason a person must fix.
	Excluded []Excluded
}

// Excluded is a policy left out of a namespace's routing.
type Excluded struct {
	Kind   string
	Name   string
	Reason string
	// Cluster or Namespaced is the policy.
	Cluster    *securityv1alpha1.ClusterEscalationPolicy
	Namespaced *securityv1alpha1.EscalationPolicy
}

// ForNamespace picks, from every cluster policy and the namespace's own,
// those that may route the namespace's incidents. Namespace and cluster
// policies are ordered together by priority, and records name a policy by
// name alone, so a namespace policy whose name a cluster policy of the
// namespace already has is excluded: the organisation's policy keeps its
// name. A cluster policy whose namespace selector is not valid is excluded
// from every namespace, and said so, since nobody can tell where it
// should apply. Policies being deleted are left out.
func ForNamespace(namespaceLabels map[string]string, cluster []*securityv1alpha1.ClusterEscalationPolicy, namespaced []*securityv1alpha1.EscalationPolicy) Candidates {
	var c Candidates
	// taken holds, by name, why a namespace policy of that name is left out.
	taken := map[string]string{}
	set := labels.Set(namespaceLabels)
	for _, p := range cluster {
		if !p.DeletionTimestamp.IsZero() {
			continue
		}
		sel, err := NamespaceSelector(p)
		if err != nil {
			c.Excluded = append(c.Excluded, Excluded{Kind: securityv1alpha1.KindClusterEscalationPolicy, Name: p.Name, Reason: err.Error(), Cluster: p})
			taken[p.Name] = fmt.Sprintf("ClusterEscalationPolicy %s has the same name, and its namespaceSelector does not parse, so nobody can tell whether it applies to this namespace; rename this policy or fix it", p.Name)
			continue
		}
		if sel.Matches(set) {
			c.Cluster = append(c.Cluster, p)
			taken[p.Name] = fmt.Sprintf("ClusterEscalationPolicy %s, which applies to this namespace, has the same name; rename this policy", p.Name)
		}
	}
	for _, p := range namespaced {
		if !p.DeletionTimestamp.IsZero() {
			continue
		}
		if reason, ok := taken[p.Name]; ok {
			c.Excluded = append(c.Excluded, Excluded{Kind: securityv1alpha1.KindEscalationPolicy, Name: p.Name, Namespaced: p, Reason: reason})
			continue
		}
		c.Namespaced = append(c.Namespaced, p)
	}
	return c
}
