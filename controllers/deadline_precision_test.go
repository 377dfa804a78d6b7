package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// TestDeadlineCountsFromRoutedAtToTheNanosecond uses real seconds: the API
// server stores routedAt with its fraction of a second, and the SLA breach
// comes at the deadline worked out from it, not at the whole second that
// status.sla records.
func TestDeadlineCountsFromRoutedAtToTheNanosecond(t *testing.T) {
	ns := newNamespace(t)
	s := newSink(t)
	webhookSecret(t, ns, "hook", s.URL)
	within := 3 * time.Second
	policy := webhookPolicy(ns, "fast", 0, "hook", securityv1alpha1.PolicyMatch{})
	policy.Spec.SLA = &securityv1alpha1.SLA{Targets: []securityv1alpha1.SLATarget{{
		Severities: []securityv1alpha1.Severity{securityv1alpha1.SeverityLow}, AcknowledgeWithin: securityv1alpha1.NewDuration(within),
	}}}
	create(t, policy)
	// Reported in the second half of a second, so that a breach at the
	// whole second would come well before the deadline.
	now := operatorClock.Now()
	time.Sleep(now.Truncate(time.Second).Add(1500 * time.Millisecond).Sub(now))
	inc := newIncident(ns, "precise", securityv1alpha1.CategoryOther, securityv1alpha1.SeverityLow)
	create(t, inc)
	waitForCondition(t, inc, incidentConditions(inc), securityv1alpha1.ConditionRouted, metav1.ConditionTrue, securityv1alpha1.ReasonMatched)
	// A reconcile after routing reads the deadline back from what was stored.
	nudge(t, inc)

	raw := &unstructured.Unstructured{}
	raw.SetGroupVersionKind(securityv1alpha1.GroupVersion.WithKind("Incident"))
	if err := k8sClient.Get(context.Background(), client.ObjectKeyFromObject(inc), raw); err != nil {
		t.Fatal(err)
	}
	stored, _, _ := unstructured.NestedString(raw.Object, "status", "routedAt")
	if !strings.Contains(stored, ".") {
		t.Fatalf("status.routedAt is stored as %q, without its fraction of a second", stored)
	}
	routed := getIncident(t, ns, inc.Name)
	if routed.Status.RoutedAt == nil || routed.Status.RoutedAt.Nanosecond() == 0 {
		t.Fatalf("routedAt read back as %v, want a fraction of a second (stored %q)", routed.Status.RoutedAt, stored)
	}
	deadline := routed.Status.RoutedAt.Add(within)
	if sla := routed.Status.SLA; sla == nil || sla.AcknowledgeBy == nil || !sla.AcknowledgeBy.Time.Equal(deadline.Truncate(time.Second)) {
		t.Fatalf("status.sla = %+v, want acknowledgeBy recorded as the second of %s", sla, deadline.Format(time.RFC3339Nano))
	}

	var breachedAt time.Time
	eventually(t, 20*time.Second, func() error {
		now := operatorClock.Now()
		if meta.IsStatusConditionTrue(getIncident(t, ns, inc.Name).Status.Conditions, securityv1alpha1.ConditionSLABreached) {
			breachedAt = now
			return nil
		}
		return fmt.Errorf("not breached yet")
	})
	if early := deadline.Sub(breachedAt); early > 0 {
		t.Fatalf("breached %s before the deadline %s, as if it fell on the whole second", early, deadline.Format(time.RFC3339Nano))
	}
	if lag := breachedAt.Sub(deadline); lag > 2*time.Second {
		t.Errorf("breach seen %s after the deadline, want within 2s", lag)
	}
	t.Logf("routedAt stored as %s; breach seen %s after the deadline", stored, breachedAt.Sub(deadline).Round(10*time.Millisecond))
}
