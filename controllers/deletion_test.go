package controllers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/controllers"
	"github.com/incidentops/incident-operator/internal/testenv"
)

// A deleted incident goes within seconds under the operator's shipped
// RBAC, and its sealed trail verifies. While the operator cannot let it go
// (here an admission policy refuses its writes to the incident), the
// incident says so, as Ready=False DeletionBlocked and a Warning, rather
// than stay Terminating in silence, and its trail, already ending in the
// deletion, verifies against the head it stores meanwhile.
func TestDeletedIncidentGoesAndSaysWhenItCannot(t *testing.T) {
	ns := newNamespace(t)
	inc := newIncident(ns, "laptop", securityv1alpha1.CategoryLoss, securityv1alpha1.SeverityLow)
	create(t, inc)
	eventually(t, 20*time.Second, func() error {
		inc = getIncident(t, ns, "laptop")
		if inc.Status.Audit == nil || inc.Status.Audit.Log == nil {
			return fmt.Errorf("no entry in the audit log yet")
		}
		return nil
	})

	refuseOperatorWrites(t, ns)
	if err := k8sClient.Delete(t.Context(), inc); err != nil {
		t.Fatal(err)
	}
	blocked := waitForCondition(t, inc, func() []metav1.Condition { return inc.Status.Conditions }, securityv1alpha1.ConditionReady, metav1.ConditionFalse, controllers.ReasonDeletionBlocked)
	t.Logf("while blocked: %s", blocked.Message)
	waitForEvent(t, ns, "laptop", controllers.ReasonDeletionBlocked, "Warning")
	held := getIncident(t, ns, "laptop")
	entries := trailOf(t, held)
	if last := entries[len(entries)-1]; last.Action != securityv1alpha1.AuditDeleted {
		t.Fatalf("the trail of the blocked incident ends in %s, want Deleted", last.Action)
	}
	if err := verify(held, entries); err != nil {
		t.Errorf("the log does not verify against the blocked incident's stored position: %v", err)
	}

	allowOperatorWrites(t)
	eventually(t, 20*time.Second, func() error {
		if err := k8sClient.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: "laptop"}, &securityv1alpha1.Incident{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("the incident is not gone: %v", err)
		}
		return nil
	})
	if entries := trailOf(t, inc); entries[len(entries)-1].Action != securityv1alpha1.AuditDeleted {
		t.Errorf("the deleted incident's entries end in %s, want Deleted", entries[len(entries)-1].Action)
	}
	if err := verify(&securityv1alpha1.Incident{ObjectMeta: inc.ObjectMeta}, nil); err != nil {
		t.Errorf("the log does not verify once the incident is gone: %v", err)
	}
}

const refuseOperatorWritesName = "test-refuse-operator-incident-writes"

// refuseOperatorWrites makes the API server refuse the operator's
// ServiceAccount every update of an incident in ns, its status aside.
func refuseOperatorWrites(t *testing.T, ns string) {
	t.Helper()
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: refuseOperatorWritesName},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionregistrationv1.RuleWithOperations{
					Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
					Rule:       admissionregistrationv1.Rule{APIGroups: []string{securityv1alpha1.GroupVersion.Group}, APIVersions: []string{"*"}, Resources: []string{"incidents"}},
				},
			}}},
			MatchConditions: []admissionregistrationv1.MatchCondition{{Name: "operator", Expression: fmt.Sprintf("request.userInfo.username == %q", testenv.OperatorServiceAccount)}},
			Validations:     []admissionregistrationv1.Validation{{Expression: "false", Message: "refused by the test"}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: refuseOperatorWritesName},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        refuseOperatorWritesName,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns},
			}},
		},
	}
	create(t, policy)
	create(t, binding)
	t.Cleanup(func() { allowOperatorWrites(t) })
	// The API server enforces a new policy a moment after it is created.
	time.Sleep(2 * time.Second)
}

func allowOperatorWrites(t *testing.T) {
	t.Helper()
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: refuseOperatorWritesName}}
	if err := k8sClient.Delete(context.Background(), binding); err != nil && !apierrors.IsNotFound(err) {
		t.Error(err)
	}
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: refuseOperatorWritesName}}
	if err := k8sClient.Delete(context.Background(), policy); err != nil && !apierrors.IsNotFound(err) {
		t.Error(err)
	}
}
