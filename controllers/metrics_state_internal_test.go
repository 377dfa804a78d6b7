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
	abandoned.Status.Notifications = []securityv1alpha1.NotificationRecord{{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{State: securityv1alpha1.DeliveryAbandoned}}, {DeliveryAttempt: securityv1alpha1.DeliveryAttempt{State: securityv1alpha1.DeliveryDelivered}}}
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
	got := sampleLines(stateSamples(heldState{incidents: incidents, policies: policies, clusterPolicies: clusterPolicies}, now), "")
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

// sampleLines renders the samples of the metrics whose names start with
// prefix as name[labels] value, in the order given.
func sampleLines(samples []sample, prefix string) []string {
	var lines []string
	for _, s := range samples {
		name := s.desc.String()
		name = name[strings.Index(name, `"`)+1:]
		name = name[:strings.Index(name, `"`)]
		if strings.HasPrefix(name, prefix) {
			lines = append(lines, fmt.Sprintf("%s%v %g", name, s.labels, s.value))
		}
	}
	return lines
}

func TestObligationSamples(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	aware := now.Add(-30 * time.Hour)
	at := func(d time.Duration) *metav1.Time { return &metav1.Time{Time: now.Add(d)} }
	incident := func(ns, name string, obligations ...securityv1alpha1.ObligationStatus) securityv1alpha1.Incident {
		inc := securityv1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		inc.Status.AwareAt = &metav1.Time{Time: aware}
		inc.Status.Obligations = obligations
		return inc
	}
	obligation := func(regime, stage string, state securityv1alpha1.ObligationState, deadline *metav1.Time) securityv1alpha1.ObligationStatus {
		return securityv1alpha1.ObligationStatus{Regime: regime, Stage: stage, State: state, Deadline: deadline,
			Recipient: securityv1alpha1.RecipientSupervisoryAuthority}
	}
	regime := func(name string, stages ...string) securityv1alpha1.RegulatoryRegime {
		r := securityv1alpha1.RegulatoryRegime{ObjectMeta: metav1.ObjectMeta{Name: name}}
		for _, s := range stages {
			r.Spec.Stages = append(r.Spec.Stages, securityv1alpha1.RegimeStage{Name: s})
		}
		return r
	}
	every := func(ns, regime, stage string, nonZero map[securityv1alpha1.ObligationState]int) []string {
		var lines []string
		for _, state := range []string{"Acknowledged", "Agreed", "Drafted", "Filed", "NotApplicable", "NotRequired", "Required", "ToDecide", "Waiting"} {
			lines = append(lines, fmt.Sprintf("incidentops_obligations[%s %s %s %s] %d", ns, regime, stage, state, nonZero[securityv1alpha1.ObligationState(state)]))
		}
		return lines
	}
	tests := map[string]struct {
		incidents []securityv1alpha1.Incident
		regimes   []securityv1alpha1.RegulatoryRegime
		metric    string
		want      []string
	}{
		"no regime installed and none held: no series": {
			incidents: []securityv1alpha1.Incident{incident("a", "plain")},
			metric:    "incidentops_obligation",
		},
		"an installed regime's stages read 0 in every state, in each namespace with an incident": {
			incidents: []securityv1alpha1.Incident{incident("a", "plain"), incident("b", "plain")},
			regimes:   []securityv1alpha1.RegulatoryRegime{regime("uk-gdpr", "notification")},
			metric:    "incidentops_obligations",
			want:      append(every("a", "uk-gdpr", "notification", nil), every("b", "uk-gdpr", "notification", nil)...),
		},
		"counted by state; a stage of a regime since removed still counted": {
			incidents: []securityv1alpha1.Incident{
				incident("a", "one", obligation("uk-gdpr", "notification", securityv1alpha1.ObligationToDecide, at(time.Hour)),
					obligation("gone", "report", securityv1alpha1.ObligationFiled, at(-time.Hour))),
				incident("a", "two", obligation("uk-gdpr", "notification", securityv1alpha1.ObligationToDecide, at(time.Hour))),
				incident("a", "three", obligation("uk-gdpr", "notification", securityv1alpha1.ObligationFiled, nil)),
			},
			regimes: []securityv1alpha1.RegulatoryRegime{regime("uk-gdpr", "notification")},
			metric:  "incidentops_obligations",
			want: append(every("a", "gone", "report", map[securityv1alpha1.ObligationState]int{"Filed": 1}),
				every("a", "uk-gdpr", "notification", map[securityv1alpha1.ObligationState]int{"ToDecide": 2, "Filed": 1})...),
		},
		"seconds to each open fixed deadline, negative once passed; none once closed or with no fixed time": {
			incidents: []securityv1alpha1.Incident{incident("a", "breach",
				obligation("uk-gdpr", "notification", securityv1alpha1.ObligationRequired, at(90*time.Minute)),
				obligation("uk-gdpr", "further-information", securityv1alpha1.ObligationRequired, nil),
				obligation("nis2", "early-warning", securityv1alpha1.ObligationAgreed, at(-time.Hour)),
				obligation("nis2", "notification", securityv1alpha1.ObligationFiled, at(time.Hour)),
				obligation("nis2", "final-report", securityv1alpha1.ObligationNotApplicable, at(time.Hour)),
			)},
			metric: "incidentops_obligation_deadline_seconds",
			want: []string{
				"incidentops_obligation_deadline_seconds[a breach nis2 early-warning SupervisoryAuthority Agreed] -3600",
				"incidentops_obligation_deadline_seconds[a breach uk-gdpr notification SupervisoryAuthority Required] 5400",
			},
		},
		"undecided since awareness, for obligations to decide only": {
			incidents: []securityv1alpha1.Incident{incident("a", "breach",
				obligation("uk-gdpr", "notification", securityv1alpha1.ObligationToDecide, at(42*time.Hour)),
				obligation("uk-gdpr", "data-subjects", securityv1alpha1.ObligationToDecide, nil),
				obligation("nis2", "early-warning", securityv1alpha1.ObligationRequired, nil),
			)},
			metric: "incidentops_obligation_undecided_since_timestamp_seconds",
			want: []string{
				fmt.Sprintf("incidentops_obligation_undecided_since_timestamp_seconds[a breach uk-gdpr data-subjects] %g", float64(aware.Unix())),
				fmt.Sprintf("incidentops_obligation_undecided_since_timestamp_seconds[a breach uk-gdpr notification] %g", float64(aware.Unix())),
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := sampleLines(stateSamples(heldState{incidents: tc.incidents, regimes: tc.regimes}, now), tc.metric)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("samples:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
