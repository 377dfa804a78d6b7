package controllers

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

func TestStateSamples(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	incident := func(ns, name string, phase securityv1alpha1.IncidentPhase, conditions ...string) securityv1alpha1.Incident {
		inc := securityv1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		inc.Spec.Severity, inc.Spec.Category = securityv1alpha1.SeverityHigh, securityv1alpha1.CategoryLoss
		inc.Status.Phase = phase
		for _, c := range conditions {
			inc.Status.Conditions = append(inc.Status.Conditions, metav1.Condition{Type: c, Status: metav1.ConditionTrue})
		}
		return inc
	}
	resolved := incident("a", "closed", securityv1alpha1.PhaseResolved, securityv1alpha1.ConditionSLABreached, securityv1alpha1.ConditionSLAAtRisk)
	resolved.Spec.Resolution = &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionResolved, By: "x"}
	breach := incident("b", "breach", securityv1alpha1.PhaseOpen, securityv1alpha1.ConditionAuthorityNotificationRequired)
	breach.Status.AuthorityNotificationDeadline = &metav1.Time{Time: now.Add(90 * time.Minute)}
	reported := incident("b", "reported", securityv1alpha1.PhaseOpen, securityv1alpha1.ConditionAuthorityNotificationRequired)
	reported.Status.AuthorityNotificationDeadline = &metav1.Time{Time: now}
	reported.Spec.AuthorityNotification = &securityv1alpha1.AuthorityNotification{}
	abandoned := incident("a", "abandoned", securityv1alpha1.PhaseEscalated, securityv1alpha1.ConditionSLAAtRisk)
	abandoned.Status.Notifications = []securityv1alpha1.NotificationRecord{{State: securityv1alpha1.DeliveryAbandoned}, {State: securityv1alpha1.DeliveryDelivered}}
	incidents := []securityv1alpha1.Incident{
		incident("a", "new", ""), incident("a", "open", securityv1alpha1.PhaseOpen), incident("a", "open-2", securityv1alpha1.PhaseOpen),
		resolved, breach, reported, abandoned,
	}
	policies := []securityv1alpha1.EscalationPolicy{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "ready"}, Status: securityv1alpha1.EscalationPolicyStatus{Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue}}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "broken"}},
	}
	clusterPolicies := []securityv1alpha1.ClusterEscalationPolicy{
		{ObjectMeta: metav1.ObjectMeta{Name: "ready"}, Status: securityv1alpha1.EscalationPolicyStatus{Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "waiting"}, Status: securityv1alpha1.EscalationPolicyStatus{Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionFalse}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "new"}},
	}
	var got []string
	for _, s := range stateSamples(incidents, policies, clusterPolicies, now) {
		name := s.desc.String()
		name = name[strings.Index(name, `"`)+1:]
		name = name[:strings.Index(name, `"`)]
		got = append(got, fmt.Sprintf("%s%v %g", name, s.labels, s.value))
	}
	want := []string{
		"incidentops_authority_deadline_seconds[b breach] 5400",
		"incidentops_cluster_policies_not_ready[] 2",
		"incidentops_incidents_sla_at_risk[a] 1",
		"incidentops_incidents_sla_breached[a] 1",
		"incidentops_notifications_abandoned[a] 1",
		"incidentops_open_incidents[a Escalated High Loss] 1",
		"incidentops_open_incidents[a Open High Loss] 2",
		"incidentops_open_incidents[a Pending High Loss] 1",
		"incidentops_open_incidents[b Open High Loss] 2",
		"incidentops_policies_not_ready[a] 1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("samples:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
