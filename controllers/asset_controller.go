package controllers

import (
	"context"
	"errors"
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// AssetReconciler keeps each asset's state and open-incident count.
type AssetReconciler struct {
	client.Client
}

// +kubebuilder:rbac:groups=security.incidentops.io,resources=assets,verbs=get;list;watch
// +kubebuilder:rbac:groups=security.incidentops.io,resources=assets/status,verbs=get;patch

func (r *AssetReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	asset := &securityv1alpha1.Asset{}
	if err := r.Get(ctx, req.NamespacedName, asset); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := asset.DeepCopy()
	defer func() {
		retErr = errors.Join(retErr, patchStatus(ctx, r.Client, asset, before, assetStatus))
	}()

	var incidents securityv1alpha1.IncidentList
	if err := r.List(ctx, &incidents, client.InNamespace(asset.Namespace),
		client.MatchingFields{indexIncidentAsset: asset.Name}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing incidents of asset: %w", err)
	}
	var open int32
	for i := range incidents.Items {
		if incidents.Items[i].DeletionTimestamp.IsZero() {
			open++
		}
	}

	status := &asset.Status
	status.ObservedGeneration = asset.Generation
	status.OpenIncidents = &open
	if status.State == "" {
		status.State = securityv1alpha1.AssetInService
	}
	markReady(&status.Conditions, asset.Generation, fmt.Sprintf("%s, %d open incidents", status.State, open))
	return ctrl.Result{}, nil
}

func assetStatus(a *securityv1alpha1.Asset) any { return a.Status }

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
