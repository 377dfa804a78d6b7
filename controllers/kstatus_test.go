package controllers_test

import (
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// waitForKStatus waits until kstatus, as Flux and Argo CD health checks use
// it, computes the wanted status for the object.
func waitForKStatus(t *testing.T, obj client.Object, want status.Status) {
	t.Helper()
	eventually(t, 20*time.Second, func() error {
		if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return err
		}
		res, err := status.Compute(&unstructured.Unstructured{Object: u})
		if err != nil {
			return err
		}
		if res.Status != want {
			return fmt.Errorf("kstatus of %s is %s (%s), want %s", obj.GetName(), res.Status, res.Message, want)
		}
		return nil
	})
}

func TestKStatusOfReconciledObjects(t *testing.T) {
	ns := newNamespace(t)
	s := newSink(t)
	webhookSecret(t, ns, "hook", s.URL)
	policy := webhookPolicy(ns, "all", 0, "hook", securityv1alpha1.PolicyMatch{})
	create(t, policy)
	asset := newAsset(ns, "laptop")
	create(t, asset)
	inc := newIncident(ns, "lost", securityv1alpha1.CategoryLoss, securityv1alpha1.SeverityLow)
	inc.Spec.Assets = []string{"laptop"}
	create(t, inc)

	waitForKStatus(t, policy, status.CurrentStatus)
	waitForKStatus(t, asset, status.CurrentStatus)
	waitForKStatus(t, inc, status.CurrentStatus)

	// A policy that cannot work without a person acting is Failed, not Current.
	broken := webhookPolicy(ns, "broken", 0, "hook", securityv1alpha1.PolicyMatch{Expression: "incident.spec.("})
	create(t, broken)
	waitForKStatus(t, broken, status.FailedStatus)
}
