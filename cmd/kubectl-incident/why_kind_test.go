package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/routing"
)

// An incident escalated by ClusterEscalationPolicy audit, in a namespace
// that no longer carries the label the cluster policy selects and has a
// policy audit of its own: why describes the cluster policy's chain, which
// the operator climbs, not the namespace's.
func TestWhyReadsRoutedPoliciesByKind(t *testing.T) {
	now := time.Now()
	next := metav1.NewTime(now.Add(time.Hour))
	inc := &securityv1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Namespace: "finance", Name: "i"}}
	inc.Status.Phase = securityv1alpha1.PhaseOpen
	inc.Status.Policies = []securityv1alpha1.PolicyReference{{Kind: securityv1alpha1.KindClusterEscalationPolicy, Name: "audit", Generation: 1, NextEscalationAt: &next}}
	own := &securityv1alpha1.EscalationPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "finance", Name: "audit", Generation: 7}}
	own.Spec.Escalation.Levels = []securityv1alpha1.EscalationLevel{{Notify: []securityv1alpha1.NotifyTarget{{Receiver: "dept-a"}}}, {Notify: []securityv1alpha1.NotifyTarget{{Receiver: "dept-b"}}}}
	cluster := &securityv1alpha1.ClusterEscalationPolicy{ObjectMeta: metav1.ObjectMeta{Name: "audit", Generation: 1}}
	cluster.Spec.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"org": "council"}}
	cluster.Spec.Escalation.Levels = []securityv1alpha1.EscalationLevel{{Notify: []securityv1alpha1.NotifyTarget{{Receiver: "audit-a"}}}, {Notify: []securityv1alpha1.NotifyTarget{{Receiver: "audit-b"}}}}
	view := policyView{
		candidates: routing.ForNamespace(map[string]string{}, []*securityv1alpha1.ClusterEscalationPolicy{cluster}, []*securityv1alpha1.EscalationPolicy{own}),
		routed: map[string]*securityv1alpha1.EscalationPolicy{
			"EscalationPolicy/audit": own, "ClusterEscalationPolicy/audit": cluster.AsEscalationPolicy(),
		},
	}
	var out bytes.Buffer
	if err := writeWhy(&out, inc, view, nil, nil, now); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); strings.Contains(got, "dept-b") || strings.Contains(got, "generation 7") || !strings.Contains(got, "audit-b") {
		t.Errorf("why describes the namespace's audit for an incident the cluster's audit escalates:\n%s", got)
	}
}

// Someone who may list cluster policies but not read the namespace: a
// namespace policy sharing a cluster policy's name is not judged as if it
// routed, and why says the namespace could not be read.
func TestWhyWithoutTheNamespacesLabels(t *testing.T) {
	own := &securityv1alpha1.EscalationPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "finance", Name: "audit"}}
	other := &securityv1alpha1.EscalationPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "finance", Name: "desk"}}
	cluster := &securityv1alpha1.ClusterEscalationPolicy{ObjectMeta: metav1.ObjectMeta{Name: "audit"}}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(own, other, cluster).
		WithInterceptorFuncs(interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if key.Namespace == "" && key.Name == "finance" {
				return apierrors.NewForbidden(schema.GroupResource{Resource: "namespaces"}, "finance", errors.New("no"))
			}
			return c.Get(ctx, key, obj, opts...)
		}}).Build()
	view, clusterErr, err := listPolicies(t.Context(), c, "finance")
	if err != nil {
		t.Fatal(err)
	}
	if clusterErr == nil || !strings.Contains(clusterErr.Error(), "cannot read namespace finance") {
		t.Errorf("clusterErr = %v", clusterErr)
	}
	if len(view.candidates.Namespaced) != 1 || view.candidates.Namespaced[0].Name != "desk" {
		t.Errorf("judged as routing: %v, want desk only", view.candidates.Namespaced)
	}
	if len(view.candidates.Excluded) != 1 || !strings.Contains(view.candidates.Excluded[0].Reason, "may be left out") {
		t.Errorf("excluded: %+v", view.candidates.Excluded)
	}
}
