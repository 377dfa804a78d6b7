// Package gather reads what routing and the lifecycle decide from: a
// namespace's labels, the EscalationPolicies of the namespace and the
// ClusterEscalationPolicies that apply to it, and an incident's assets and
// department. The operator reads through its cache, `kubectl incident why`
// through the API server with the user's rights, and `kubectl incident
// test` through files: one gather step for the three, so that they decide
// on the same things, and what could not be read is said rather than
// taken for nothing.
package gather

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/routing"
)

// Reader is what gather reads through.
type Reader = client.Reader

// Offline is a Reader over objects, as namespace ns with labels holds
// them, for what is read from files: namespaced objects in no namespace
// are placed in ns, those of another namespace left out.
func Offline(ns string, labels map[string]string, objects []runtime.Object) (Reader, error) {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := securityv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	all := []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels}}}
	for _, o := range objects {
		obj, ok := o.(client.Object)
		if !ok {
			return nil, fmt.Errorf("%T is not an object", o)
		}
		if _, cluster := obj.(*securityv1alpha1.ClusterEscalationPolicy); !cluster {
			switch obj.GetNamespace() {
			case "":
				obj.SetNamespace(ns)
			case ns:
			default:
				continue
			}
		}
		obj.SetResourceVersion("")
		all = append(all, obj)
	}
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(all...).Build(), nil
}

// Namespace is what routing reads of one namespace.
type Namespace struct {
	Name string
	// Labels are the namespace's labels, which pick the cluster policies.
	Labels map[string]string
	// Candidates are the policies that may route the namespace's
	// incidents, with those left out and why (routing.ForNamespace).
	Candidates routing.Candidates
	// Policies are every policy read, cluster policies as the
	// EscalationPolicy they act as, by PolicyReference.KindOrDefault and
	// name: the ones an incident was routed to may no longer be candidates.
	Policies map[string]*securityv1alpha1.EscalationPolicy
	// Unread is what could not be read, each error saying what it keeps
	// from the decision. The operator retries; a person is told.
	Unread []error
}

// Policy is the policy a reference names, or nil when it was not read.
func (n *Namespace) Policy(ref securityv1alpha1.PolicyReference) *securityv1alpha1.EscalationPolicy {
	return n.Policies[ref.KindOrDefault()+"/"+ref.Name]
}

// ForNamespace reads the namespace's labels and policies. Only the
// namespace's own policies are needed: failing to list them is the error;
// the cluster's policies or the namespace's labels that cannot be read are
// in Unread, and a namespace policy that a cluster policy of the same name
// may shadow is left out, said so, rather than judged as if it routed.
// opts go to every List, such as client.UnsafeDisableDeepCopy for a cache.
func ForNamespace(ctx context.Context, r client.Reader, namespace string, opts ...client.ListOption) (*Namespace, error) {
	var own securityv1alpha1.EscalationPolicyList
	if err := r.List(ctx, &own, append([]client.ListOption{client.InNamespace(namespace)}, opts...)...); err != nil {
		return nil, fmt.Errorf("listing the EscalationPolicies of namespace %s: %w", namespace, err)
	}
	n := &Namespace{Name: namespace, Policies: map[string]*securityv1alpha1.EscalationPolicy{}}
	var clusterList securityv1alpha1.ClusterEscalationPolicyList
	if err := r.List(ctx, &clusterList, opts...); err != nil {
		n.Unread = append(n.Unread, fmt.Errorf("cannot read ClusterEscalationPolicies, some of which may route this namespace's incidents: %w", err))
	}
	cluster := pointersTo(clusterList.Items)
	for _, p := range cluster {
		n.Policies[securityv1alpha1.KindClusterEscalationPolicy+"/"+p.Name] = p.AsEscalationPolicy()
	}
	namespaced := pointersTo(own.Items)
	for _, p := range namespaced {
		n.Policies[securityv1alpha1.KindEscalationPolicy+"/"+p.Name] = p
	}

	var unjudged []*securityv1alpha1.ClusterEscalationPolicy
	if len(cluster) > 0 {
		labels, err := Labels(ctx, r, namespace)
		if err != nil {
			n.Unread = append(n.Unread, err)
			cluster, unjudged = nil, cluster
		}
		n.Labels = labels
	}
	n.Candidates = routing.ForNamespace(n.Labels, cluster, namespaced)
	// Without the namespace's labels, a namespace policy sharing a cluster
	// policy's name may be left out by the operator.
	for _, cp := range unjudged {
		kept := n.Candidates.Namespaced[:0]
		for _, p := range n.Candidates.Namespaced {
			if p.Name != cp.Name {
				kept = append(kept, p)
				continue
			}
			n.Candidates.Excluded = append(n.Candidates.Excluded, routing.Excluded{
				Kind: securityv1alpha1.KindEscalationPolicy, Name: p.Name, Namespaced: p,
				Reason: fmt.Sprintf("may be left out: ClusterEscalationPolicy %s has the same name and may apply to this namespace", cp.Name),
			})
		}
		n.Candidates.Namespaced = kept
	}
	return n, nil
}

// Labels reads the labels cluster policies select a namespace by. A
// namespace that is not there yet, for a cache that has not seen one just
// created, is an error too: routing waits for its labels rather than judge
// the cluster policies on none and miss a protected one for good.
func Labels(ctx context.Context, r client.Reader, namespace string) (map[string]string, error) {
	ns := &metav1.PartialObjectMetadata{}
	ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	if err := r.Get(ctx, types.NamespacedName{Name: namespace}, ns); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("namespace %s is not known yet; its labels pick the ClusterEscalationPolicies", namespace)
		}
		return nil, fmt.Errorf("cannot read namespace %s, whose labels pick the ClusterEscalationPolicies: %w", namespace, err)
	}
	return ns.Labels, nil
}

// Assets reads the Assets the incident names, by name; one that does not
// exist is left out, as routing and the lifecycle treat it. One that
// cannot be read for another reason is an error in the list.
func Assets(ctx context.Context, r client.Reader, incident *securityv1alpha1.Incident) (map[string]*securityv1alpha1.Asset, []error) {
	assets := make(map[string]*securityv1alpha1.Asset, len(incident.Spec.Assets))
	var unread []error
	for _, name := range incident.Spec.Assets {
		asset := &securityv1alpha1.Asset{}
		switch err := r.Get(ctx, types.NamespacedName{Namespace: incident.Namespace, Name: name}, asset); {
		case err == nil:
			assets[name] = asset
		case !apierrors.IsNotFound(err):
			unread = append(unread, fmt.Errorf("cannot read asset %s, which policies may match on: %w", name, err))
		}
	}
	return assets, unread
}

// Department is the Department of the incident's namespace that the
// reporter names, and how many are so named: nil when none is, or more
// than one, which nobody can choose between.
func Department(ctx context.Context, r client.Reader, incident *securityv1alpha1.Incident, opts ...client.ListOption) (*securityv1alpha1.Department, int, error) {
	name := incident.Spec.Reporter.Department
	if name == "" {
		return nil, 0, nil
	}
	var list securityv1alpha1.DepartmentList
	if err := r.List(ctx, &list, append([]client.ListOption{client.InNamespace(incident.Namespace)}, opts...)...); err != nil {
		return nil, 0, fmt.Errorf("cannot read the Departments of namespace %s, for the reporter's managers and deputies: %w", incident.Namespace, err)
	}
	var named []*securityv1alpha1.Department
	for i := range list.Items {
		if list.Items[i].Spec.Name == name {
			named = append(named, &list.Items[i])
		}
	}
	if len(named) != 1 {
		return nil, len(named), nil
	}
	return named[0], 1, nil
}

// Incident is what routing and the lifecycle read for one incident.
type Incident struct {
	*Namespace
	Assets map[string]*securityv1alpha1.Asset
	// Department is the reporter's Department; nil when none is declared
	// or more than one is (DepartmentsNamed says how many).
	Department       *securityv1alpha1.Department
	DepartmentsNamed int
}

// ForIncident gathers everything the incident is decided on. What could
// not be read is in Unread.
func ForIncident(ctx context.Context, r client.Reader, incident *securityv1alpha1.Incident) (*Incident, error) {
	ns, err := ForNamespace(ctx, r, incident.Namespace)
	if err != nil {
		return nil, err
	}
	in := &Incident{Namespace: ns}
	var unread []error
	in.Assets, unread = Assets(ctx, r, incident)
	ns.Unread = append(ns.Unread, unread...)
	if in.Department, in.DepartmentsNamed, err = Department(ctx, r, incident); err != nil {
		ns.Unread = append(ns.Unread, err)
	}
	return in, nil
}

func pointersTo[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}
