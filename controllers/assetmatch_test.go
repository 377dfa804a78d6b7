package controllers_test

import (
	"testing"
	"time"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// An incident naming a business-critical system is routed as business
// critical without the reporter saying so, status names the asset that
// made the match, and a later change to the asset does not move it.
func TestPolicyMatchesOnTheIncidentsAssets(t *testing.T) {
	ns := newNamespace(t)
	s := newSink(t)
	webhookSecret(t, ns, "hook", s.URL)
	create(t, webhookPolicy(ns, "business-critical", 100, "hook", securityv1alpha1.PolicyMatch{
		Assets: &securityv1alpha1.AssetMatch{BusinessCritical: ptr.To(true), Types: []securityv1alpha1.AssetType{securityv1alpha1.AssetApplication}},
	}))
	create(t, webhookPolicy(ns, "everything-else", 0, "hook", securityv1alpha1.PolicyMatch{}))
	mis := newAsset(ns, "mis")
	mis.Spec.Type, mis.Spec.BusinessCritical = securityv1alpha1.AssetApplication, true
	create(t, mis)
	create(t, newAsset(ns, "laptop"))

	routedTo := func(name string, assets ...string) *securityv1alpha1.Incident {
		inc := newIncident(ns, name, securityv1alpha1.CategorySystemMalfunction, securityv1alpha1.SeverityMedium)
		inc.Spec.Assets = assets
		create(t, inc)
		var got *securityv1alpha1.Incident
		eventually(t, 20*time.Second, func() error {
			if got = getIncident(t, ns, name); len(got.Status.Policies) == 0 {
				return errorf("not routed yet")
			}
			return nil
		})
		return got
	}
	if p := routedTo("mis-down", "laptop", "mis").Status.Policies; p[0].Name != "business-critical" || p[0].MatchedAsset != "mis" {
		t.Errorf("policies %+v, want business-critical matched by asset mis", p)
	}
	if p := routedTo("laptop-slow", "laptop").Status.Policies; p[0].Name != "everything-else" {
		t.Errorf("policies %+v, want everything-else", p)
	}

	// The asset stops being business critical: the routed incident stays.
	stored := &securityv1alpha1.Asset{}
	if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(mis), stored); err != nil {
		t.Fatal(err)
	}
	changed := stored.DeepCopy()
	changed.Spec.BusinessCritical = false
	if err := k8sClient.Patch(t.Context(), changed, client.MergeFrom(stored)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if p := getIncident(t, ns, "mis-down").Status.Policies; len(p) != 1 || p[0].Name != "business-critical" {
		t.Errorf("after the asset changed, policies %+v, want business-critical still", p)
	}
	if p := routedTo("mis-down-again", "mis").Status.Policies; p[0].Name != "everything-else" {
		t.Errorf("a new incident after the change: policies %+v, want everything-else", p)
	}
}
