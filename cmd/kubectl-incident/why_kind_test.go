package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/routing"
	"github.com/incidentops/incident-operator/internal/routing/gather"
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
	in := &gather.Incident{Namespace: &gather.Namespace{
		Candidates: routing.ForNamespace(map[string]string{}, []*securityv1alpha1.ClusterEscalationPolicy{cluster}, []*securityv1alpha1.EscalationPolicy{own}),
		Policies: map[string]*securityv1alpha1.EscalationPolicy{
			"EscalationPolicy/audit": own, "ClusterEscalationPolicy/audit": cluster.AsEscalationPolicy(),
		},
	}}
	var out bytes.Buffer
	if err := writeWhy(&out, inc, in, nil, now); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); strings.Contains(got, "dept-b") || strings.Contains(got, "generation 7") || !strings.Contains(got, "audit-b") {
		t.Errorf("why describes the namespace's audit for an incident the cluster's audit escalates:\n%s", got)
	}
}
