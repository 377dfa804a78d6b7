package controllers

import (
	"context"
	"strconv"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Field indexes on the incident cache.
const (
	// indexIncidentAsset indexes incidents by the assets they name.
	indexIncidentAsset = "spec.assets"
	// indexIncidentRouted indexes incidents by whether they are routed, so a
	// policy change re-evaluates only the incidents still waiting for one.
	indexIncidentRouted = "status.routed"
	// indexDepartmentName indexes Departments by the name reporters give.
	indexDepartmentName = "spec.name"
)

// SetupIndexes registers the field indexes the controllers query.
func SetupIndexes(ctx context.Context, mgr ctrl.Manager) error {
	indexer := mgr.GetFieldIndexer()
	if err := indexer.IndexField(ctx, &securityv1alpha1.Incident{}, indexIncidentAsset, func(o client.Object) []string {
		return o.(*securityv1alpha1.Incident).Spec.Assets
	}); err != nil {
		return err
	}
	if err := indexer.IndexField(ctx, &securityv1alpha1.Department{}, indexDepartmentName, func(o client.Object) []string {
		return []string{o.(*securityv1alpha1.Department).Spec.Name}
	}); err != nil {
		return err
	}
	if err := indexer.IndexField(ctx, &securityv1alpha1.Evidence{}, indexEvidenceIncident, func(o client.Object) []string {
		return []string{o.(*securityv1alpha1.Evidence).Spec.Incident}
	}); err != nil {
		return err
	}
	if err := indexer.IndexField(ctx, &securityv1alpha1.Filing{}, indexFilingIncident, func(o client.Object) []string {
		return []string{o.(*securityv1alpha1.Filing).Spec.Incident}
	}); err != nil {
		return err
	}
	if err := indexer.IndexField(ctx, &securityv1alpha1.Filing{}, indexFilingRegime, func(o client.Object) []string {
		return []string{o.(*securityv1alpha1.Filing).Spec.Regime}
	}); err != nil {
		return err
	}
	return indexer.IndexField(ctx, &securityv1alpha1.Incident{}, indexIncidentRouted, func(o client.Object) []string {
		return []string{strconv.FormatBool(isRouted(o.(*securityv1alpha1.Incident)))}
	})
}

// isRouted is true once an incident has been matched to its policies.
// Routing happens once: later policy changes do not move a routed incident.
func isRouted(inc *securityv1alpha1.Incident) bool {
	return len(inc.Status.Policies) > 0
}
