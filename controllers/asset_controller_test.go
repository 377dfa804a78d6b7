package controllers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

func newAsset(ns, name string) *securityv1alpha1.Asset {
	return &securityv1alpha1.Asset{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: securityv1alpha1.AssetSpec{
			Type:  securityv1alpha1.AssetLaptop,
			Owner: securityv1alpha1.Contact{Name: "Priya Shah", Email: "priya@example.org"},
		},
	}
}

func waitForOpenIncidents(t *testing.T, asset *securityv1alpha1.Asset, want int32) {
	t.Helper()
	eventually(t, 20*time.Second, func() error {
		if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(asset), asset); err != nil {
			return err
		}
		if got := asset.Status.OpenIncidents; got == nil || *got != want {
			return fmt.Errorf("openIncidents = %v, want %d", got, want)
		}
		return nil
	})
}

func TestAssetCountsTheIncidentsThatNameIt(t *testing.T) {
	ns := newNamespace(t)
	laptop := newAsset(ns, "laptop-0142")
	phone := newAsset(ns, "phone-77")
	create(t, laptop)
	create(t, phone)
	waitForCondition(t, laptop, func() []metav1.Condition { return laptop.Status.Conditions }, securityv1alpha1.ConditionReady, metav1.ConditionTrue, "")
	if laptop.Status.State != securityv1alpha1.AssetInService || laptop.Status.OpenIncidents == nil || *laptop.Status.OpenIncidents != 0 {
		t.Errorf("new asset status = %+v, want InService with no incidents", laptop.Status)
	}

	lost := newIncident(ns, "lost-laptop", securityv1alpha1.CategoryLoss, securityv1alpha1.SeverityHigh)
	lost.Spec.Assets = []string{"laptop-0142", "phone-77"}
	malware := newIncident(ns, "malware", securityv1alpha1.CategoryMalware, securityv1alpha1.SeverityMedium)
	malware.Spec.Assets = []string{"laptop-0142"}
	create(t, lost)
	create(t, malware)
	waitForOpenIncidents(t, laptop, 2)
	waitForOpenIncidents(t, phone, 1)

	// An incident that stops naming an asset no longer counts for it.
	update(t, lost, func(i *securityv1alpha1.Incident) { i.Spec.Assets = []string{"laptop-0142"} })
	waitForOpenIncidents(t, phone, 0)

	if err := k8sClient.Delete(t.Context(), malware); err != nil {
		t.Fatal(err)
	}
	waitForOpenIncidents(t, laptop, 1)
}

func waitForAssetState(t *testing.T, asset *securityv1alpha1.Asset, want securityv1alpha1.AssetState) {
	t.Helper()
	eventually(t, 20*time.Second, func() error {
		if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(asset), asset); err != nil {
			return err
		}
		if asset.Status.State != want {
			return fmt.Errorf("state = %s, want %s", asset.Status.State, want)
		}
		return nil
	})
}

func TestLossTakesAnAssetOutOfServiceUntilAPersonReturnsIt(t *testing.T) {
	ns := newNamespace(t)
	laptop := newAsset(ns, "laptop-0199")
	create(t, laptop)
	waitForAssetState(t, laptop, securityv1alpha1.AssetInService)

	lost := newIncident(ns, "laptop-left-on-train", securityv1alpha1.CategoryLoss, securityv1alpha1.SeverityHigh)
	lost.Spec.Assets = []string{"laptop-0199"}
	create(t, lost)
	waitForAssetState(t, laptop, securityv1alpha1.AssetLost)
	if laptop.Status.StateIncident != lost.Name || laptop.Status.StateChangedAt == nil {
		t.Errorf("status = %+v, want the incident and the time recorded", laptop.Status)
	}

	// Resolving the incident does not bring the laptop back; it no longer counts as open.
	update(t, lost, func(i *securityv1alpha1.Incident) {
		i.Spec.Resolution = &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionResolved, By: "Service desk"}
	})
	waitForOpenIncidents(t, laptop, 0)
	if laptop.Status.State != securityv1alpha1.AssetLost {
		t.Errorf("state after resolution = %s, want still Lost", laptop.Status.State)
	}

	// A return dated in the year 9999 is not believed: the laptop stays
	// Lost, and the asset says which field is wrong.
	update(t, laptop, func(a *securityv1alpha1.Asset) {
		a.Spec.ReturnedToService = &securityv1alpha1.ReturnedToService{At: metav1.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), By: "Typo"}
	})
	c := waitForCondition(t, laptop, func() []metav1.Condition { return laptop.Status.Conditions }, securityv1alpha1.ConditionReady, metav1.ConditionFalse, securityv1alpha1.ReasonTimeInFuture)
	if !strings.Contains(c.Message, "spec.returnedToService.at") || laptop.Status.State != securityv1alpha1.AssetLost {
		t.Errorf("state %s, Ready %q; want Lost, naming spec.returnedToService.at", laptop.Status.State, c.Message)
	}

	// A person says it is back.
	update(t, laptop, func(a *securityv1alpha1.Asset) {
		a.Spec.ReturnedToService = &securityv1alpha1.ReturnedToService{At: metav1.Now(), By: "Lost property office"}
	})
	waitForAssetState(t, laptop, securityv1alpha1.AssetInService)

	// A later theft takes it out again, over the earlier return.
	time.Sleep(1100 * time.Millisecond) // timestamps have whole seconds
	stolen := newIncident(ns, "laptop-stolen", securityv1alpha1.CategoryTheft, securityv1alpha1.SeverityHigh)
	stolen.Spec.Assets = []string{"laptop-0199"}
	create(t, stolen)
	waitForAssetState(t, laptop, securityv1alpha1.AssetStolen)
}
