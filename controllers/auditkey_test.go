package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/controllers"
)

// A lost log key is never replaced behind an administrator's back. With
// its Secret deleted the operator records nothing more (a Warning on the
// incident, Ready=False AuditSigningWithheld, the metric at 1, an error in
// the log naming the Secret), and a restart creates neither the Secret nor
// a key. Restored from a backup, the Secret is picked up without a
// restart: the change that waited is recorded, and the log verifies.
func TestAuditLogKeyLostIsNeverReplaced(t *testing.T) {
	ns := newNamespace(t)
	ref := logKeySetup.Secret
	backup := &corev1.Secret{}
	if err := k8sClient.Get(t.Context(), ref, backup); err != nil {
		t.Fatal(err)
	}
	restore := func() {
		if err := k8sClient.Create(context.Background(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name}, Data: backup.Data}); err != nil {
			t.Fatal(err)
		}
	}

	// The suite's operator waits; this test's operator keeps its key as
	// the Secret says, as main runs it, and works on this namespace only.
	operator.stop()
	t.Cleanup(func() {
		if err := k8sClient.Get(context.Background(), ref, &corev1.Secret{}); err != nil {
			restore()
		}
		if err := operator.start(); err != nil {
			t.Error(err)
		}
	})
	key, err := controllers.LoadLogKey(t.Context(), operatorClient(t), logKeySetup)
	if err != nil {
		t.Fatal(err)
	}
	stop := startKeyedOperator(t, ns, key)
	create(t, newIncident(ns, "laptop", securityv1alpha1.CategoryLoss, securityv1alpha1.SeverityHigh))
	inc, _ := waitForTrail(t, ns, "laptop", "Reported by admin")

	// The Secret is deleted: signing stops, and so does recording.
	if err := k8sClient.Delete(t.Context(), backup.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if _, err := key.Signer(); !errors.Is(err, controllers.ErrLogSigningWithheld) {
			return fmt.Errorf("still signing after the Secret was deleted: %v", err)
		}
		if v := gaugeValue(t, "incidentops_audit_signing_key_missing"); v != 1 {
			return fmt.Errorf("incidentops_audit_signing_key_missing is %v", v)
		}
		return nil
	})
	update(t, inc, func(i *securityv1alpha1.Incident) { i.Spec.Severity = securityv1alpha1.SeverityCritical })
	warning := waitForEvent(t, ns, "laptop", controllers.EventAuditNotRecorded, corev1.EventTypeWarning)
	for _, want := range []string{"audit log signing is withheld", "the audit log key Secret " + ref.String() + " is missing", "restore it from its backup"} {
		if !strings.Contains(warning.Note, want) {
			t.Errorf("the Warning does not say %q:\n%s", want, warning.Note)
		}
	}
	eventually(t, 20*time.Second, func() error {
		ready := meta.FindStatusCondition(getIncident(t, ns, "laptop").Status.Conditions, securityv1alpha1.ConditionReady)
		if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != controllers.ReasonAuditSigningWithheld {
			return fmt.Errorf("Ready is %+v; want False %s", ready, controllers.ReasonAuditSigningWithheld)
		}
		return nil
	})
	if log := operatorLog.String(); !strings.Contains(log, "Writing no audit log entry") || !strings.Contains(log, ref.String()) {
		t.Errorf("the operator logged no error naming the Secret")
	}
	if now := getIncident(t, ns, "laptop"); slices.Contains(actions(trailOf(t, now)), "Changed by admin") || now.Status.ObservedGeneration == now.Generation {
		t.Errorf("the change was recorded while the key was missing: %q, generation %d observed %d",
			actions(trailOf(t, now)), now.Generation, now.Status.ObservedGeneration)
	}

	// A restart creates no Secret and no key: it still signs nothing.
	stop()
	key, err = controllers.LoadLogKey(t.Context(), operatorClient(t), logKeySetup)
	if err != nil {
		t.Fatal(err)
	}
	if err := k8sClient.Get(t.Context(), ref, &corev1.Secret{}); err == nil {
		t.Fatal("the restart made the Secret again: a new key, against which no checkpoint verifies")
	}
	if _, err := key.Signer(); !errors.Is(err, controllers.ErrLogSigningWithheld) || !strings.Contains(err.Error(), "is missing") {
		t.Fatalf("after a restart without the Secret, signing: %v", err)
	}
	startKeyedOperator(t, ns, key)

	// Restored from the backup, the Secret is picked up without a restart;
	// the change that waited is recorded, and the log verifies with the
	// published key.
	restore()
	eventually(t, 10*time.Second, func() error {
		if _, err := key.Signer(); err != nil {
			return err
		}
		if v := gaugeValue(t, "incidentops_audit_signing_key_missing"); v != 0 {
			return fmt.Errorf("incidentops_audit_signing_key_missing is %v", v)
		}
		return nil
	})
	waitForTrail(t, ns, "laptop", "Reported by admin", "Changed by admin")
}

// startKeyedOperator runs the operator's controllers on namespace ns with
// key, kept as the Secret says by a LogKeyWatch, as main runs them.
func startKeyedOperator(t *testing.T, ns string, key *controllers.LogKey) (stop func()) {
	t.Helper()
	return startScopedOperator(t, ns, controllers.Options{LogKey: key, LogOrigin: logKeySetup.Origin}, func(mgr ctrl.Manager) manager.Runnable {
		return &controllers.LogKeyWatch{Reader: mgr.GetAPIReader(), Setup: logKeySetup, Key: key, Interval: 100 * time.Millisecond}
	})
}

// gaugeValue reads a gauge without labels from the operator's registry.
func gaugeValue(t *testing.T, name string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no gauge %s", name)
	return 0
}
