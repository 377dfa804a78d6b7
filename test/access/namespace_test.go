package access_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/testenv"
)

// Deleting a namespace deletes its audit trails as Kubernetes' namespace
// controller does, with deletecollection under its own account, so the
// namespace does not stay Terminating for ever; a trail under legal hold
// stays, and the namespace with it, until the hold is released. Outside a
// namespace's deletion, that account may not delete a trail either.
func TestNamespaceDeletionTakesItsUnheldTrails(t *testing.T) {
	ctx := context.Background()
	cfg := rest.CopyConfig(adminConfig)
	// The account and role the API server's bootstrap policy gives the
	// namespace controller.
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:kube-system:namespace-controller",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:kube-system"}}
	controller, err := client.New(cfg, client.Options{Scheme: testenv.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	// The record is the trails and the batches of the audit log.
	deleteTrails := func(ns string) error {
		for _, kind := range []client.Object{&securityv1alpha1.AuditBatch{}, &securityv1alpha1.AuditTrail{}} {
			if err := controller.DeleteAllOf(ctx, kind, client.InNamespace(ns)); err != nil {
				return fmt.Errorf("%T: %w", kind, err)
			}
		}
		return nil
	}

	unheld := withRecord(nil)(t, namespaceFor(t, "deleted-unheld"))
	if err := deleteTrails(unheld.ns); err == nil || !strings.Contains(err.Error(), "purge") {
		t.Fatalf("the namespace controller deleted trails of a namespace that is not being deleted: %v", err)
	}
	held := withRecord(held)(t, namespaceFor(t, "deleted-held"))
	for _, ns := range []string{unheld.ns, held.ns} {
		if err := admin.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := deleteTrails(unheld.ns); err != nil {
		t.Errorf("the deleted namespace's unheld trails were kept: %v", err)
	}
	if err := deleteTrails(held.ns); err == nil || !strings.Contains(err.Error(), "under legal hold") {
		t.Errorf("the deleted namespace's held trail was deleted: %v", err)
	}
}
