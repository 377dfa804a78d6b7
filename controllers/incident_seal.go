package controllers

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// ReasonDeletionBlocked: a deleted incident cannot go, because its
// deletion could not be recorded, exported or its audit finalizer removed.
const ReasonDeletionBlocked = "DeletionBlocked"

// sealOrSay seals a deleted incident (seal). When that fails, the incident
// says why, as a Ready=False condition and a Warning, rather than stay
// Terminating with nothing but a log line; and the trail's head, when the
// deletion was already appended, is stored, so that the trail still
// verifies while the incident waits.
func (r *IncidentReconciler) sealOrSay(ctx context.Context, incident *securityv1alpha1.Incident) error {
	before := incident.DeepCopy()
	err := r.seal(ctx, incident)
	if err == nil {
		return nil
	}
	message := truncateBytes(fmt.Sprintf("the incident was deleted but cannot go yet: %v; the operator retries", err), maxConditionMessage)
	r.Events.warning(incident, ReasonDeletionBlocked, "Seal", "%s", message)
	setCondition(&incident.Status.Conditions, incident.Generation, r.Clock.Now(), securityv1alpha1.ConditionReady, metav1.ConditionFalse, ReasonDeletionBlocked, message)
	if statusErr := r.Status().Patch(ctx, incident, client.MergeFrom(before)); client.IgnoreNotFound(statusErr) != nil {
		return errors.Join(err, fmt.Errorf("recording why the deletion is blocked: %w", statusErr))
	}
	return err
}

// deletionRecorded is true when the incident's last entry in the log, at
// the position its status stores, is its deletion: a seal tried again
// after a failure stored that position must not record the deletion twice.
func (r *IncidentReconciler) deletionRecorded(ctx context.Context, incident *securityv1alpha1.Incident) (bool, error) {
	if incident.Status.Audit == nil || incident.Status.Audit.Log == nil {
		return false, nil
	}
	subject, err := r.logSubject(ctx, incident)
	if err != nil {
		return false, err
	}
	entries, err := r.Audit.Log.Stored(ctx, subject, incident.Status.Audit.Log.Entries-1)
	if err != nil {
		return false, err
	}
	return len(entries) > 0 && entries[0].Action == string(securityv1alpha1.AuditDeleted), nil
}
