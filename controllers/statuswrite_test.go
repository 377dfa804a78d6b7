package controllers_test

import (
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// refuseDeliveredLabel marks the incidents whose status the API server
// refuses once it records a delivery: the write that records outcomes
// fails, as when an incident's status grows past etcd's limit.
const refuseDeliveredLabel = "test.incidentops.io/refuse-delivered-status"

// refuseDeliveredStatus installs an admission policy that refuses such
// writes, and returns a function that removes it.
func refuseDeliveredStatus(t *testing.T) {
	t.Helper()
	name := "refuse-delivered-status." + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	policy := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptrTo(admissionv1.Fail),
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Update},
					Rule: admissionv1.Rule{
						APIGroups: []string{securityv1alpha1.GroupVersion.Group}, APIVersions: []string{"*"}, Resources: []string{"incidents/status"},
					},
				},
			}}},
			Validations: []admissionv1.Validation{{
				Expression: "!has(object.metadata.labels) || !('" + refuseDeliveredLabel + "' in object.metadata.labels) || " +
					"!has(object.status.notifications) || !object.status.notifications.exists(n, n.state == 'Delivered')",
				Message: "test: a status that records a delivery is refused",
			}},
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       admissionv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: name, ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny}},
	}
	create(t, policy)
	create(t, binding)
	t.Cleanup(func() {
		_ = k8sClient.Delete(t.Context(), binding)
		_ = k8sClient.Delete(t.Context(), policy)
	})

	// The policy takes effect a moment after it is created: wait until a
	// probe's status with a delivery is refused.
	ns := newNamespace(t)
	probe := newIncident(ns, "probe", securityv1alpha1.CategoryOther, securityv1alpha1.SeverityLow)
	probe.Labels = map[string]string{refuseDeliveredLabel: "true"}
	create(t, probe)
	eventually(t, 30*time.Second, func() error {
		current := getIncident(t, ns, "probe")
		patched := current.DeepCopy()
		patched.Status.Notifications = []securityv1alpha1.NotificationRecord{{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{Key: "probe", Receiver: "r", Channel: "webhook", State: securityv1alpha1.DeliveryDelivered}, Policy: "p"}}
		err := k8sClient.Status().Patch(t.Context(), patched, client.MergeFrom(current), client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), "ValidatingAdmissionPolicy") {
			return errorf("status with a delivery not refused yet (%v)", err)
		}
		return nil
	})
}

func ptrTo[T any](v T) *T { return &v }

// A delivery the receiver accepted is not sent again because the status
// write that records it fails: the operator remembers it until the write
// succeeds. Before, every retry of the reconcile resent every delivery.
func TestFailedStatusWriteDoesNotResendDeliveries(t *testing.T) {
	refuseDeliveredStatus(t)
	ns := newNamespace(t)
	s := newSink(t)
	webhookSecret(t, ns, "hook", s.URL+"/desk")
	create(t, webhookPolicy(ns, "desk", 0, "hook", securityv1alpha1.PolicyMatch{}))
	incident := newIncident(ns, "refused", securityv1alpha1.CategoryMalware, securityv1alpha1.SeverityHigh)
	incident.Labels = map[string]string{refuseDeliveredLabel: "true"}
	create(t, incident)

	// The webhook is told once.
	eventually(t, 20*time.Second, func() error {
		if s.Len() == 0 {
			return errorf("the webhook was not told")
		}
		return nil
	})
	// The outcome cannot be stored: the reconcile fails and is retried,
	// with backoff, many times in these seconds.
	time.Sleep(3 * time.Second)
	if inc := getIncident(t, ns, "refused"); len(inc.Status.Notifications) != 0 {
		t.Fatalf("status = %+v; want nothing stored: the write that records the delivery is refused", inc.Status.Notifications)
	}
	if n := s.Len(); n != 1 {
		t.Fatalf("the webhook got %d requests while the outcome could not be stored; want 1", n)
	}

	// Once the write is allowed, the delivery is recorded without a resend.
	update(t, incident, func(i *securityv1alpha1.Incident) { delete(i.Labels, refuseDeliveredLabel) })
	eventually(t, 20*time.Second, func() error {
		inc := getIncident(t, ns, "refused")
		if len(inc.Status.Notifications) != 1 || inc.Status.Notifications[0].State != securityv1alpha1.DeliveryDelivered {
			return errorf("notifications = %+v, want one Delivered", inc.Status.Notifications)
		}
		return nil
	})
	if n := s.Len(); n != 1 {
		t.Errorf("the webhook got %d requests in all; want 1", n)
	}
}
