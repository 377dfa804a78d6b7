package controllers_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

func policyConditions(p *securityv1alpha1.EscalationPolicy) func() []metav1.Condition {
	return func() []metav1.Condition { return p.Status.Conditions }
}

func TestPolicyIsReadyWhenItsSecretsExist(t *testing.T) {
	ns := newNamespace(t)
	webhookSecret(t, ns, "hook", "http://127.0.0.1:1/")
	policy := webhookPolicy(ns, "ok", 0, "hook", securityv1alpha1.PolicyMatch{Expression: `incident.spec.severity == "High"`})
	create(t, policy)
	waitForCondition(t, policy, policyConditions(policy), securityv1alpha1.ConditionReady, metav1.ConditionTrue, securityv1alpha1.ReasonSucceeded)
	if policy.Status.ObservedGeneration != policy.Generation {
		t.Errorf("observedGeneration = %d, want %d", policy.Status.ObservedGeneration, policy.Generation)
	}
}

func TestPolicyWithInvalidExpressionIsNotReadyAndSkipped(t *testing.T) {
	ns := newNamespace(t)
	s := newSink(t)
	webhookSecret(t, ns, "hook", s.URL)
	broken := webhookPolicy(ns, "broken", 100, "hook", securityv1alpha1.PolicyMatch{Expression: `incident.spec.severity ==`})
	create(t, broken)
	c := waitForCondition(t, broken, policyConditions(broken), securityv1alpha1.ConditionReady, metav1.ConditionFalse, securityv1alpha1.ReasonInvalidExpression)
	if !strings.Contains(c.Message, "spec.match.expression") || !strings.Contains(c.Message, "Syntax error") {
		t.Errorf("message %q should name the field and give the compiler's error", c.Message)
	}
	waitForCondition(t, broken, policyConditions(broken), securityv1alpha1.ConditionStalled, metav1.ConditionTrue, securityv1alpha1.ReasonInvalidExpression)

	notBool := webhookPolicy(ns, "not-bool", 90, "hook", securityv1alpha1.PolicyMatch{Expression: `incident.metadata.name + "x"`})
	create(t, notBool)
	c = waitForCondition(t, notBool, policyConditions(notBool), securityv1alpha1.ConditionReady, metav1.ConditionFalse, securityv1alpha1.ReasonInvalidExpression)
	if !strings.Contains(c.Message, "bool") {
		t.Errorf("message %q should say the expression must be a bool", c.Message)
	}

	// Incidents are still routed, past the broken policy, and people are told.
	create(t, webhookPolicy(ns, "fallback", 0, "hook", securityv1alpha1.PolicyMatch{}))
	inc := newIncident(ns, "virus", securityv1alpha1.CategoryMalware, securityv1alpha1.SeverityHigh)
	create(t, inc)
	waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionReady, metav1.ConditionTrue, "")
	if got := policyNames(inc); !slices.Equal(got, []string{"fallback"}) {
		t.Errorf("policies = %v, want [fallback]", got)
	}
	for _, name := range []string{"broken", "not-bool"} {
		eventually(t, 20*time.Second, func() error {
			for _, e := range eventsFor(t, ns, inc.Name, "PolicyNotEvaluated") {
				if e.Type == "Warning" && strings.Contains(e.Note, "EscalationPolicy "+name+" ") {
					return nil
				}
			}
			return errorf("no PolicyNotEvaluated event names policy %s", name)
		})
	}

	// Fixing the expression makes the policy Ready again.
	update(t, broken, func(p *securityv1alpha1.EscalationPolicy) {
		p.Spec.Match.Expression = `incident.spec.severity == "Critical"`
	})
	waitForCondition(t, broken, policyConditions(broken), securityv1alpha1.ConditionReady, metav1.ConditionTrue, "")
	if broken.Status.ObservedGeneration != 2 {
		t.Errorf("observedGeneration = %d, want 2", broken.Status.ObservedGeneration)
	}
}

func TestPolicySecretsMustBeLabelledAndTheirExistenceIsNotRevealed(t *testing.T) {
	ns := newNamespace(t)
	policy := webhookPolicy(ns, "desk", 0, "service-desk-url", securityv1alpha1.PolicyMatch{})
	create(t, policy)

	// notReady waits for the policy's SecretNotFound message at a generation.
	notReady := func(generation int64) string {
		t.Helper()
		var message string
		eventually(t, 20*time.Second, func() error {
			if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(policy), policy); err != nil {
				return err
			}
			c := meta.FindStatusCondition(policy.Status.Conditions, securityv1alpha1.ConditionReady)
			if c == nil || c.ObservedGeneration != generation || c.Reason != securityv1alpha1.ReasonSecretNotFound {
				return errorf("Ready = %+v, want SecretNotFound at generation %d", c, generation)
			}
			message = c.Message
			return nil
		})
		return message
	}
	missing := notReady(1)
	if !strings.Contains(missing, ns+"/service-desk-url") || !strings.Contains(missing, `"hook"`) || !strings.Contains(missing, securityv1alpha1.NotificationSecretLabel) {
		t.Errorf("message %q should name the Secret, the receiver and the label", missing)
	}

	// A Secret that holds the key but is not labelled for the operator is
	// not used, and reads exactly as a missing one.
	unlabelled := secretWithData(ns, "service-desk-url", map[string]string{"url": "http://127.0.0.1:1/"})
	unlabelled.Labels = nil
	create(t, unlabelled)
	update(t, policy, func(p *securityv1alpha1.EscalationPolicy) { p.Spec.Priority = 1 })
	if got := notReady(2); got != missing {
		t.Errorf("an unlabelled Secret reads %q; a missing one %q: the difference tells whether the Secret exists", got, missing)
	}

	// Labelled, without the key: the same again.
	update(t, unlabelled, func(s *corev1.Secret) {
		s.Labels = notificationSecret
		s.Data = map[string][]byte{"other": []byte("x")}
	})
	update(t, policy, func(p *securityv1alpha1.EscalationPolicy) { p.Spec.Priority = 2 })
	if got := notReady(3); got != missing {
		t.Errorf("a Secret without the key reads %q; a missing one %q", got, missing)
	}

	// Labelled, with the key: Ready.
	update(t, unlabelled, func(s *corev1.Secret) { s.Data = map[string][]byte{"url": []byte("http://127.0.0.1:1/")} })
	update(t, policy, func(p *securityv1alpha1.EscalationPolicy) { p.Spec.Priority = 3 })
	waitForCondition(t, policy, policyConditions(policy), securityv1alpha1.ConditionReady, metav1.ConditionTrue, securityv1alpha1.ReasonSucceeded)
}

// Conditions take their transition time from the operator's clock, not the
// machine's, so that time-driven logic and tests agree on when things
// happened.
func TestConditionTimesComeFromTheOperatorsClock(t *testing.T) {
	ns := newNamespace(t)
	operatorClock.advance(3 * time.Hour)
	webhookSecret(t, ns, "hook", "http://127.0.0.1:1/")
	policy := webhookPolicy(ns, "later", 0, "hook", securityv1alpha1.PolicyMatch{})
	create(t, policy)
	c := waitForCondition(t, policy, policyConditions(policy), securityv1alpha1.ConditionReady, metav1.ConditionTrue, securityv1alpha1.ReasonSucceeded)
	if ahead := c.LastTransitionTime.Sub(time.Now()); ahead < 2*time.Hour {
		t.Errorf("Ready changed at %s, %s from the machine's clock; the operator's clock is at least 3h ahead", c.LastTransitionTime, ahead)
	}
}
