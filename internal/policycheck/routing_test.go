package policycheck

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// What `kubectl incident why` reads from a policy's Ready condition is what
// routing does: a policy judged unusable is left out, a protected one only
// when its own spec cannot work, and a condition of an older generation, a
// missing Secret or an expression failing on some incidents leave it in.
func TestLeftOutOfRouting(t *testing.T) {
	policy := func(reason string, observed int64) *securityv1alpha1.EscalationPolicy {
		return &securityv1alpha1.EscalationPolicy{
			ObjectMeta: metav1.ObjectMeta{Generation: 2},
			Status: securityv1alpha1.EscalationPolicyStatus{Conditions: []metav1.Condition{{
				Type: securityv1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: reason, Message: "because", ObservedGeneration: observed,
			}}},
		}
	}
	for _, c := range []struct {
		reason    string
		observed  int64
		protected bool
		leftOut   bool
	}{
		{ReasonChannelNotConfigured, 2, false, true},
		{ReasonChannelNotConfigured, 2, true, false},
		{ReasonChannelNotConfigured, 1, false, false},
		{ReasonInvalidDuration, 2, true, true},
		{ReasonTooManyNotifications, 2, true, true},
		{securityv1alpha1.ReasonSecretNotFound, 2, false, false},
		{ReasonExpressionFails, 2, false, false},
		{ReasonImplausibleValue, 2, false, false},
	} {
		if got := LeftOutOfRouting(policy(c.reason, c.observed), c.protected) != ""; got != c.leftOut {
			t.Errorf("%s (observed %d, protected %v): left out %v, want %v", c.reason, c.observed, c.protected, got, c.leftOut)
		}
	}
}
