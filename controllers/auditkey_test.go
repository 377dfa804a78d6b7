package controllers_test

import (
	"errors"
	"fmt"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/controllers"
	"github.com/incidentops/incident-operator/internal/audit"
	"github.com/incidentops/incident-operator/internal/plugin/input"
)

// A lost signing key is never replaced behind an administrator's back.
// With its Secret deleted the operator records nothing more (a Warning on
// the incident, the metric at 1, an error in the log naming the Secret),
// and a restart creates neither the Secret nor a key. Restored from a
// backup, the Secret is picked up without a restart: the change that
// waited is recorded, and the whole trail verifies with it. Adding a key
// rotates: the new key signs what follows, and the trail, old entries and
// new, verifies with the Secret as kubectl incident audit verify reads it.
func TestAuditKeyLostIsNeverReplaced(t *testing.T) {
	ns := newNamespace(t)
	// The Secret the shipped RBAC lets the operator read, by its name.
	ref := types.NamespacedName{Namespace: operatorNamespace, Name: "incident-operator-audit-key"}
	// The Secret holds the key the suite's operator signed every other
	// trail in the cluster with, as the operator's own Secret would.
	suiteKey := auditKeys.Signing()
	backup := map[string][]byte{suiteKey.ID: suiteKey.Secret}
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name}, Data: backup})

	// The suite's operator, which signs with a fixed ring, waits; this
	// test's operator loads its keys from the Secret, as main does, and
	// works on this namespace only.
	operator.stop()
	t.Cleanup(func() {
		if err := operator.start(); err != nil {
			t.Error(err)
		}
	})
	keys, err := controllers.LoadAuditKeys(t.Context(), k8sClient, ref)
	if err != nil {
		t.Fatal(err)
	}
	if key, err := keys.SigningKey(); err != nil || key.ID != suiteKey.ID {
		t.Fatalf("the keys loaded from the Secret sign with %s: %v", key, err)
	}
	stop := startKeyedOperator(t, ns, ref, keys)

	create(t, newIncident(ns, "laptop", securityv1alpha1.CategoryLoss, securityv1alpha1.SeverityHigh))
	inc, _ := waitForSignedTrail(t, ns, "laptop", keys, "Reported by admin")

	// The Secret is deleted: signing stops, and so does recording.
	if err := k8sClient.Delete(t.Context(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if _, err := keys.SigningKey(); !errors.Is(err, audit.ErrSigningWithheld) {
			return fmt.Errorf("still signing after the Secret was deleted: %v", err)
		}
		if v := gaugeValue(t, "incidentops_audit_signing_key_missing"); v != 1 {
			return fmt.Errorf("incidentops_audit_signing_key_missing is %v", v)
		}
		return nil
	})
	update(t, inc, func(i *securityv1alpha1.Incident) { i.Spec.Severity = securityv1alpha1.SeverityCritical })
	warning := waitForEvent(t, ns, "laptop", controllers.EventAuditNotRecorded, corev1.EventTypeWarning)
	for _, want := range []string{"audit signing withheld", "the audit signing key Secret " + ref.String() + " is missing", "Restore the Secret from your backup"} {
		if !strings.Contains(warning.Note, want) {
			t.Errorf("the Warning does not say %q:\n%s", want, warning.Note)
		}
	}
	// The incident itself says why nothing of it is recorded.
	eventually(t, 20*time.Second, func() error {
		ready := meta.FindStatusCondition(getIncident(t, ns, "laptop").Status.Conditions, securityv1alpha1.ConditionReady)
		if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != controllers.ReasonAuditSigningWithheld {
			return fmt.Errorf("Ready is %+v; want False %s", ready, controllers.ReasonAuditSigningWithheld)
		}
		return nil
	})
	if log := operatorLog.String(); !strings.Contains(log, "Signing no audit entry") || !strings.Contains(log, ref.String()) {
		t.Errorf("the operator logged no error naming the Secret")
	}
	if now := getIncident(t, ns, "laptop"); now.Spec.Severity != securityv1alpha1.SeverityCritical || slices.Contains(actions(trailOf(t, now)), "Changed by admin") ||
		now.Status.ObservedGeneration == now.Generation {
		t.Errorf("the change was recorded while the key was missing: trail %q, generation %d observed %d",
			actions(trailOf(t, now)), now.Generation, now.Status.ObservedGeneration)
	}

	// A restart creates no Secret and no key: it still signs nothing.
	stop()
	keys, err = controllers.LoadAuditKeys(t.Context(), k8sClient, ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := k8sClient.Get(t.Context(), ref, &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the restart made the Secret again (err %v): a new key, with which no trail verifies", err)
	}
	if _, err := keys.SigningKey(); !errors.Is(err, audit.ErrSigningWithheld) || !strings.Contains(err.Error(), "is missing") {
		t.Fatalf("after a restart without the Secret, signing: %v", err)
	}
	startKeyedOperator(t, ns, ref, keys)

	// Restored from the backup, the Secret is picked up without a
	// restart; the change that waited is recorded, and the whole trail
	// verifies with the restored key.
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name}, Data: backup})
	eventually(t, 10*time.Second, func() error {
		if _, err := keys.SigningKey(); err != nil {
			return err
		}
		if v := gaugeValue(t, "incidentops_audit_signing_key_missing"); v != 0 {
			return fmt.Errorf("incidentops_audit_signing_key_missing is %v", v)
		}
		return nil
	})
	restored, err := controllers.LoadAuditKeys(t.Context(), k8sClient, ref)
	if err != nil {
		t.Fatal(err)
	}
	_, recorded := waitForSignedTrail(t, ns, "laptop", restored, "Reported by admin", "Changed by admin")
	for _, e := range recorded {
		if e.KeyID != suiteKey.ID {
			t.Errorf("entry %d is signed with %q, not the restored key %q", e.Sequence, e.KeyID, suiteKey.ID)
		}
	}

	// Rotation: a key whose id sorts later is added, and the old one kept.
	rotated := audit.Key{ID: suiteKey.ID + "-rotated", Secret: []byte("fedcba9876543210fedcba9876543210")}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name}}
	update(t, secret, func(s *corev1.Secret) { s.Data[rotated.ID] = rotated.Secret })
	eventually(t, 10*time.Second, func() error {
		if key, err := keys.SigningKey(); err != nil || key.ID != rotated.ID {
			return fmt.Errorf("signing with %s after the rotation: %v", key, err)
		}
		return nil
	})
	inc = getIncident(t, ns, "laptop")
	update(t, inc, func(i *securityv1alpha1.Incident) { i.Spec.Severity = securityv1alpha1.SeverityMedium })
	// kubectl incident audit verify --key-file reads the Secret as kubectl
	// get secret -o yaml prints it.
	if err := k8sClient.Get(t.Context(), ref, secret); err != nil {
		t.Fatal(err)
	}
	secret.APIVersion, secret.Kind = "v1", "Secret"
	file, err := yaml.Marshal(secret)
	if err != nil {
		t.Fatal(err)
	}
	fromFile, err := input.KeyRing(file)
	if err != nil {
		t.Fatal(err)
	}
	_, recorded = waitForSignedTrail(t, ns, "laptop", fromFile, "Reported by admin", "Changed by admin", "Changed by admin")
	signers := map[string]bool{}
	for _, e := range recorded {
		signers[e.KeyID] = true
	}
	if !signers[suiteKey.ID] || !signers[rotated.ID] || recorded[len(recorded)-1].KeyID != rotated.ID {
		t.Errorf("the trail is signed with %v and ends with %q; want the old key, then the new", signers, recorded[len(recorded)-1].KeyID)
	}

	// Deleted, the incident's trail is sealed and still verifies with the
	// Secret. (Its head then leaves the cluster, so that the rotated key is
	// no longer needed by the next test to load keys from a Secret.)
	if err := k8sClient.Delete(t.Context(), getIncident(t, ns, "laptop")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		if err := k8sClient.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: "laptop"}, &securityv1alpha1.Incident{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("the incident is not gone: %v", err)
		}
		return nil
	})
	sealed := trailOf(t, inc)
	subject := securityv1alpha1.AuditSubject{Kind: "Incident", Name: inc.Name, UID: string(inc.UID)}
	if _, err := audit.Verify(ns, subject, sealed, audit.VerifyOptions{Keys: fromFile, Sealed: true}); err != nil {
		t.Errorf("the sealed trail does not verify with the rotated Secret: %v", err)
	}
}

// startKeyedOperator runs the operator's controllers on namespace ns with
// keys, kept as the Secret says by an AuditKeyWatch, as main runs them.
func startKeyedOperator(t *testing.T, ns string, ref types.NamespacedName, keys *audit.KeyRing) (stop func()) {
	t.Helper()
	return startScopedOperator(t, ns, controllers.Options{AuditKeys: keys}, func(mgr ctrl.Manager) manager.Runnable {
		return &controllers.AuditKeyWatch{Reader: mgr.GetAPIReader(), Secret: ref, Keys: keys, Interval: 100 * time.Millisecond}
	})
}

// waitForSignedTrail waits until the incident's trail verifies with keys,
// against its head, and holds want in order.
func waitForSignedTrail(t *testing.T, ns, name string, keys *audit.KeyRing, want ...string) (*securityv1alpha1.Incident, []securityv1alpha1.AuditEntry) {
	t.Helper()
	var inc *securityv1alpha1.Incident
	var entries []securityv1alpha1.AuditEntry
	eventually(t, 30*time.Second, func() error {
		inc = getIncident(t, ns, name)
		entries = trailOf(t, inc)
		if inc.Status.Audit == nil || inc.Status.Audit.Head == nil {
			return errors.New("no head yet")
		}
		subject := securityv1alpha1.AuditSubject{Kind: "Incident", Name: inc.Name, UID: string(inc.UID)}
		if _, err := audit.Verify(ns, subject, entries, audit.VerifyOptions{Keys: keys, Head: inc.Status.Audit.Head}); err != nil {
			return err
		}
		got := actions(entries)
		rest := got
		for _, w := range want {
			i := slices.Index(rest, w)
			if i < 0 {
				return fmt.Errorf("trail %q lacks %q", got, w)
			}
			rest = rest[i+1:]
		}
		return nil
	})
	return inc, entries
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
