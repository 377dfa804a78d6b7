package controllers_test

import (
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Who reported, acknowledged and resolved an incident is the account the
// API server authenticated, whatever the client wrote, and the record
// cannot be changed afterwards.
func TestIdentityIsAttestedByTheAPIServer(t *testing.T) {
	ns := newNamespace(t)
	rules := []rbacv1.PolicyRule{{
		APIGroups: []string{securityv1alpha1.GroupVersion.Group}, Resources: []string{"incidents"},
		Verbs: []string{"get", "list", "create", "update", "patch"},
	}}
	jo := clientAs(t, ns, "jo", rules)
	sam := clientAs(t, ns, "sam", rules)

	// Jo reports, claiming to be someone else.
	incident := newIncident(ns, "forged", securityv1alpha1.CategoryPhishing, securityv1alpha1.SeverityLow)
	incident.Spec.ReportedBy = &securityv1alpha1.Attestation{Username: "chief-executive"}
	if err := jo.Create(t.Context(), incident); err != nil {
		t.Fatal(err)
	}
	stored := getIncident(t, ns, "forged")
	if by := stored.Spec.ReportedBy; by == nil || by.Username != "jo" {
		t.Fatalf("reportedBy = %+v, want jo, who created it", by)
	}

	// Sam acknowledges, naming another account.
	ack := stored.DeepCopy()
	ack.Spec.Acknowledgement = &securityv1alpha1.Acknowledgement{By: "Jo Bloggs", AttestedBy: &securityv1alpha1.Attestation{Username: "chief-executive"}}
	if err := sam.Patch(t.Context(), ack, client.MergeFrom(stored)); err != nil {
		t.Fatal(err)
	}
	stored = getIncident(t, ns, "forged")
	if by := stored.Spec.Acknowledgement.AttestedBy; by == nil || by.Username != "sam" {
		t.Fatalf("acknowledgement.attestedBy = %+v, want sam, who acknowledged", by)
	}

	// Nobody, not even the one who made it, edits the acknowledgement or
	// the reporter's account afterwards.
	for name, change := range map[string]func(i *securityv1alpha1.Incident){
		"the note":         func(i *securityv1alpha1.Incident) { i.Spec.Acknowledgement.Note = "rewritten" },
		"the account":      func(i *securityv1alpha1.Incident) { i.Spec.Acknowledgement.AttestedBy.Username = "jo" },
		"the reporter's":   func(i *securityv1alpha1.Incident) { i.Spec.ReportedBy.Username = "sam" },
		"the whole record": func(i *securityv1alpha1.Incident) { i.Spec.Acknowledgement = nil },
	} {
		edited := stored.DeepCopy()
		change(edited)
		err := sam.Patch(t.Context(), edited, client.MergeFrom(stored))
		if err == nil {
			t.Errorf("changing %s was accepted", name)
			continue
		}
		if !strings.Contains(err.Error(), "spec.acknowledgement") && !strings.Contains(err.Error(), "spec.reportedBy") {
			t.Errorf("changing %s: %v; want the field named", name, err)
		}
	}

	// Resolving is attested the same way.
	resolved := stored.DeepCopy()
	resolved.Spec.Resolution = &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionFalsePositive, By: "Jo", AttestedBy: &securityv1alpha1.Attestation{Username: "sam"}}
	if err := jo.Patch(t.Context(), resolved, client.MergeFrom(stored)); err != nil {
		t.Fatal(err)
	}
	if by := getIncident(t, ns, "forged").Spec.Resolution.AttestedBy; by == nil || by.Username != "jo" {
		t.Errorf("resolution.attestedBy = %+v, want jo, who resolved", by)
	}
}
