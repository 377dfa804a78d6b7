package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// AssetReconciler keeps each asset's state and open-incident count.
type AssetReconciler struct {
	client.Client
	Clock clock.Clock
}

// +kubebuilder:rbac:groups=security.incidentops.io,resources=assets,verbs=list;watch
// +kubebuilder:rbac:groups=security.incidentops.io,resources=assets/status,verbs=patch

func (r *AssetReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	asset := &securityv1alpha1.Asset{}
	if err := r.Get(ctx, req.NamespacedName, asset); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := asset.DeepCopy()
	defer func() {
		if retErr == nil {
			asset.Status.ObservedGeneration = asset.Generation
		}
		retErr = errors.Join(retErr, patchStatus(ctx, r.Client, asset, before, assetStatus))
	}()

	var incidents securityv1alpha1.IncidentList
	if err := r.List(ctx, &incidents, client.InNamespace(asset.Namespace),
		client.MatchingFields{indexIncidentAsset: asset.Name}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing incidents of asset: %w", err)
	}
	var open int32
	for i := range incidents.Items {
		inc := &incidents.Items[i]
		if inc.DeletionTimestamp.IsZero() && inc.Spec.Resolution == nil {
			open++
		}
	}

	status := &asset.Status
	status.OpenIncidents = &open
	if status.State == "" {
		status.State = securityv1alpha1.AssetInService
	}
	now := r.Clock.Now()
	var reason string
	var problems []string
	var recheck ctrl.Result
	returned := asset.Spec.ReturnedToService
	if returned != nil && returned.At.After(now.Add(securityv1alpha1.ReportClockSkew)) {
		// A return dated in the future (9999 for 2026) would put the asset
		// back in service for good, and stamp the year 9999 on its state.
		reason = securityv1alpha1.ReasonTimeInFuture
		problems = append(problems, fmt.Sprintf("spec.returnedToService.at: %s is in the future: the asset stays out of service until a person records when it came back",
			returned.At.UTC().Format(time.RFC3339)))
		recheck.RequeueAfter = returned.At.Sub(now) - securityv1alpha1.ReportClockSkew + time.Second
		returned = nil
	}
	if field := supplierProblem(asset.Spec.Supplier); field != "" {
		if reason == "" {
			reason = securityv1alpha1.ReasonInconsistent
		}
		problems = append(problems, field)
	}
	updateAssetState(asset, incidents.Items, returned)
	if len(problems) > 0 {
		markStalled(&status.Conditions, asset.Generation, now, reason, strings.Join(problems, "; "))
		return recheck, nil
	}
	markReady(&status.Conditions, asset.Generation, now, fmt.Sprintf("%s, %d open incidents", status.State, open))
	return ctrl.Result{}, nil
}

// supplierProblem says what is wrong with how the supplier is reached, as
// "field: message", or "": the CRD refuses both today, but an asset stored
// before it did may lack the contact its supplier role needs.
func supplierProblem(s *securityv1alpha1.Supplier) string {
	switch {
	case s == nil:
		return ""
	case s.ContactVia == securityv1alpha1.ContactDirect && s.HelpDesk == nil:
		return "spec.supplier.helpDesk: is required when contactVia is Direct; nobody can be told as the supplier"
	case s.ContactVia == securityv1alpha1.ContactNamedContact && s.NamedContact == nil:
		return "spec.supplier.namedContact: is required when contactVia is NamedContact; nobody can be told as the supplier"
	}
	return ""
}

func assetStatus(a *securityv1alpha1.Asset) any { return a.Status }

// lossStates are the asset states that loss, theft and destruction incidents imply.
var lossStates = map[securityv1alpha1.IncidentCategory]securityv1alpha1.AssetState{
	securityv1alpha1.CategoryLoss:        securityv1alpha1.AssetLost,
	securityv1alpha1.CategoryTheft:       securityv1alpha1.AssetStolen,
	securityv1alpha1.CategoryDestruction: securityv1alpha1.AssetDestroyed,
}

// outOfService is true for the states a loss, theft or destruction causes.
func outOfService(state securityv1alpha1.AssetState) bool {
	for _, s := range lossStates {
		if s == state {
			return true
		}
	}
	return false
}

// updateAssetState takes the asset out of service for the latest loss,
// theft or destruction incident that names it, and puts it back only when
// returned (spec.returnedToService, unless it cannot be trusted) says so
// after that incident. The state is kept in
// status, so deleting the incident does not bring the asset back.
func updateAssetState(asset *securityv1alpha1.Asset, incidents []securityv1alpha1.Incident, returned *securityv1alpha1.ReturnedToService) {
	status := &asset.Status
	var latest *securityv1alpha1.Incident
	var latestAt time.Time
	for i := range incidents {
		inc := &incidents[i]
		if _, ok := lossStates[inc.Spec.Category]; !ok || !inc.DeletionTimestamp.IsZero() {
			continue
		}
		if r := inc.Spec.Resolution; r != nil && r.State != securityv1alpha1.ResolutionResolved {
			continue // a false positive or a duplicate took nothing out of service
		}
		at := inc.AwareAt()
		if latest == nil || at.After(latestAt) {
			latest, latestAt = inc, at
		}
	}
	if latest != nil && (returned == nil || returned.At.Time.Before(latestAt)) &&
		(status.StateIncident != latest.Name || status.State == securityv1alpha1.AssetInService) &&
		(status.StateChangedAt == nil || !status.StateChangedAt.Time.After(latestAt)) {
		status.State = lossStates[latest.Spec.Category]
		status.StateChangedAt = &metav1.Time{Time: latestAt}
		status.StateIncident = latest.Name
		return
	}
	if outOfService(status.State) && returned != nil && (status.StateChangedAt == nil || !returned.At.Time.Before(status.StateChangedAt.Time)) {
		status.State = securityv1alpha1.AssetInService
		status.StateChangedAt = returned.At.DeepCopy()
		status.StateIncident = ""
	}
}

// SetupWithManager registers the controller. An asset is reconciled when it
// changes and when an incident that names it, or named it, changes.
func (r *AssetReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&securityv1alpha1.Asset{}).
		Watches(&securityv1alpha1.Incident{}, handler.EnqueueRequestsFromMapFunc(namedAssets)).
		Named("asset").
		Complete(r)
}

// namedAssets maps an incident to the assets it names. On an update the
// handler calls it for both the old and the new incident, so an asset that
// was dropped from the list is recounted too.
func namedAssets(_ context.Context, obj client.Object) []reconcile.Request {
	incident := obj.(*securityv1alpha1.Incident)
	requests := make([]reconcile.Request, 0, len(incident.Spec.Assets))
	for _, name := range incident.Spec.Assets {
		requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: incident.Namespace, Name: name}})
	}
	return requests
}
