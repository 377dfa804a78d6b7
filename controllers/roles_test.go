package controllers_test

import (
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// holding is a client acting as user, bound in ns to one of the shipped
// ClusterRoles (config/rbac/user_roles.yaml).
func holding(t *testing.T, ns, user, clusterRole string) client.Client {
	t.Helper()
	create(t, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	})
	return impersonating(t, user)
}

// Each shipped role lets its holder do their part and no more: a viewer
// reads, a reporter reports, a responder acknowledges and resolves but
// cannot change what the incident is, a policy admin can.
func TestUserRoles(t *testing.T) {
	ns := newNamespace(t)
	viewer := holding(t, ns, "vic", "incident-viewer")
	reporter := holding(t, ns, "rob", "incident-reporter")
	responder := holding(t, ns, "rita", "incident-responder")
	admin := holding(t, ns, "pat", "incident-policy-admin")

	if err := viewer.Create(t.Context(), newIncident(ns, "by-viewer", securityv1alpha1.CategoryOther, securityv1alpha1.SeverityLow)); !apierrors.IsForbidden(err) {
		t.Errorf("a viewer reported an incident: %v", err)
	}
	incident := newIncident(ns, "phish", securityv1alpha1.CategoryPhishing, securityv1alpha1.SeverityHigh)
	if err := reporter.Create(t.Context(), incident); err != nil {
		t.Fatalf("a reporter could not report: %v", err)
	}
	var list securityv1alpha1.IncidentList
	if err := viewer.List(t.Context(), &list, client.InNamespace(ns)); err != nil || len(list.Items) != 1 {
		t.Errorf("a viewer lists %d incidents (%v), want 1", len(list.Items), err)
	}

	stored := getIncident(t, ns, "phish")
	acknowledged := stored.DeepCopy()
	acknowledged.Spec.Acknowledgement = &securityv1alpha1.Acknowledgement{By: "Rita"}
	if err := reporter.Patch(t.Context(), acknowledged, client.MergeFrom(stored)); !apierrors.IsForbidden(err) {
		t.Errorf("a reporter acknowledged: %v", err)
	}
	if err := responder.Patch(t.Context(), acknowledged, client.MergeFrom(stored)); err != nil {
		t.Fatalf("a responder could not acknowledge: %v", err)
	}

	// Downgrading what the incident is needs the verb classify.
	for name, change := range map[string]func(i *securityv1alpha1.Incident){
		"severity": func(i *securityv1alpha1.Incident) { i.Spec.Severity = securityv1alpha1.SeverityLow },
		"category": func(i *securityv1alpha1.Incident) { i.Spec.Category = securityv1alpha1.CategoryChainLetter },
		"impact":   func(i *securityv1alpha1.Incident) { i.Spec.Impact.PersonalData = true },
	} {
		stored = getIncident(t, ns, "phish")
		changed := stored.DeepCopy()
		change(changed)
		err := responder.Patch(t.Context(), changed, client.MergeFrom(stored))
		if err == nil || !strings.Contains(err.Error(), "spec."+name) {
			t.Errorf("a responder changing %s: %v; want it refused, naming the field", name, err)
		}
	}
	stored = getIncident(t, ns, "phish")
	reclassified := stored.DeepCopy()
	reclassified.Spec.Severity = securityv1alpha1.SeverityCritical
	if err := admin.Patch(t.Context(), reclassified, client.MergeFrom(stored)); err != nil {
		t.Errorf("a policy admin could not reclassify: %v", err)
	}
}
