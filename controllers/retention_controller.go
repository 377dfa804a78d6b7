package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/archive"
)

// +kubebuilder:rbac:groups=security.incidentops.io,resources=incidents;evidences,verbs=delete

// retentionArchiveWait is how soon an incident whose entries the archive
// does not hold yet is looked at again: the archiver copies the log in
// the background.
const retentionArchiveWait = 5 * time.Second

// RetentionReconciler ends the retention of resolved incidents: once the
// longest retention period of the policies that route an incident has
// passed since its resolution, it archives the incident whole (the object,
// its evidence records and its entries of the namespace's log), records
// in the log where, and removes the incident and its evidence from the
// cluster. The incident's own finalizer then records its deletion, so
// that the log of every incident that leaves ends with Deleted.
//
// An incident under legal hold is neither archived nor removed; one that
// cannot be archived stays, and its Retained condition says why. Archive
// I/O runs here, never in the incident controller's status write.
type RetentionReconciler struct {
	client.Client
	Log *AuditLog
	// Archive is where incidents are archived; nil keeps every incident,
	// and says so on those whose retention ended.
	Archive *archive.Writer
	Clock   clock.Clock
	Events  eventRecorder
}

func (r *RetentionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	incident := &securityv1alpha1.Incident{}
	if err := r.Get(ctx, req.NamespacedName, incident); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !incident.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	until, ok := incident.RetainedUntil(r.routedPolicies(ctx, incident))
	if !ok {
		return ctrl.Result{}, nil
	}
	now := r.Clock.Now()
	if now.Before(until) {
		return ctrl.Result{RequeueAfter: until.Sub(now)}, nil
	}
	due := until.UTC().Format(time.RFC3339)
	switch {
	case incident.Spec.LegalHold.Active():
		return ctrl.Result{}, r.keep(ctx, incident, securityv1alpha1.ReasonRetentionHeld,
			fmt.Sprintf("retention ended at %s; the incident stays in the cluster while under legal hold (%s)", due, incident.Spec.LegalHold.Reason))
	case r.Archive == nil:
		return ctrl.Result{}, r.keep(ctx, incident, securityv1alpha1.ReasonRetentionNoArchive,
			fmt.Sprintf("retention ended at %s; the incident stays in the cluster: the operator has no audit archive (--audit-archive) to keep it in", due))
	}
	retained, wait, err := r.retained(ctx, incident)
	if err != nil || wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, err
	}
	key, err := r.Archive.Retain(ctx, r.Log.originOf(incident.Namespace), retained)
	if err != nil {
		r.Events.warning(incident, "ArchiveFailed", "Archive", "Retention ended at %s but the incident could not be archived, so it stays in the cluster: %v", due, err)
		return ctrl.Result{}, errors.Join(err, r.keep(ctx, incident, securityv1alpha1.ReasonRetentionArchiveFailed,
			fmt.Sprintf("retention ended at %s; archiving the incident failed, so it stays in the cluster, and archiving is retried: %v", due, err)))
	}
	return ctrl.Result{}, r.remove(ctx, incident, key, until)
}

// routedPolicies are the current policies that route the incident.
func (r *RetentionReconciler) routedPolicies(ctx context.Context, incident *securityv1alpha1.Incident) map[string]*securityv1alpha1.EscalationPolicy {
	policies := map[string]*securityv1alpha1.EscalationPolicy{}
	for _, ref := range incident.Status.Policies {
		if p := currentPolicyOf(ctx, r.Client, incident.Namespace, ref); p != nil {
			policies[ref.Name] = p
		}
	}
	return policies
}

// retained is the incident as it is archived: the object, its evidence,
// and its entries of the log, once the archive holds the log up to them.
func (r *RetentionReconciler) retained(ctx context.Context, incident *securityv1alpha1.Incident) (archive.Retained, time.Duration, error) {
	subject, err := subjectIn(ctx, r.Client, incident)
	if err != nil {
		return archive.Retained{}, 0, err
	}
	indexes, entries, err := r.Log.Entries(ctx, subject)
	if err != nil {
		return archive.Retained{}, 0, err
	}
	if len(indexes) == 0 {
		return archive.Retained{}, 0, fmt.Errorf("the audit log of namespace %s holds no entry of incident %s: it is not archived without its record", incident.Namespace, incident.Name)
	}
	if audit := incident.Status.Audit; audit == nil || audit.Log == nil || audit.Log.Entries != int64(len(indexes)) {
		// The incident's last reconcile is still being recorded: it is
		// archived with every entry its status counts, once they agree.
		return archive.Retained{}, retentionArchiveWait, nil
	}
	archived, err := r.Archive.Size(ctx, r.Log.originOf(incident.Namespace))
	if err != nil {
		return archive.Retained{}, 0, err
	}
	if archived <= indexes[len(indexes)-1] {
		return archive.Retained{}, retentionArchiveWait, nil
	}
	out := archive.Retained{Namespace: incident.Namespace, Name: incident.Name, UID: string(incident.UID), Archived: r.Clock.Now().UTC()}
	if out.Incident, err = objectJSON(r.Scheme(), incident); err != nil {
		return out, 0, err
	}
	var evidence securityv1alpha1.EvidenceList
	if err := r.List(ctx, &evidence, client.InNamespace(incident.Namespace), client.MatchingFields{indexEvidenceIncident: incident.Name}); err != nil {
		return out, 0, err
	}
	for i := range evidence.Items {
		data, err := objectJSON(r.Scheme(), &evidence.Items[i])
		if err != nil {
			return out, 0, err
		}
		out.Evidence = append(out.Evidence, data)
	}
	for i, e := range entries {
		line, err := e.Line()
		if err != nil {
			return out, 0, err
		}
		out.Entries = append(out.Entries, archive.RetainedEntry{Index: indexes[i], Leaf: line})
	}
	return out, 0, nil
}

// objectJSON is obj as the API server serves it, with its kind.
func objectJSON(scheme *runtime.Scheme, obj client.Object) (json.RawMessage, error) {
	gvk, err := apiutil.GVKForObject(obj, scheme)
	if err != nil {
		return nil, err
	}
	obj = obj.DeepCopyObject().(client.Object)
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	obj.SetManagedFields(nil)
	return json.Marshal(obj)
}

// remove records in the log where the incident was archived, then deletes
// its evidence and the incident itself; its finalizer records the deletion.
func (r *RetentionReconciler) remove(ctx context.Context, incident *securityv1alpha1.Incident, key string, until time.Time) error {
	subject, err := subjectIn(ctx, r.Client, incident)
	if err != nil {
		return err
	}
	if _, err := r.Log.Append(ctx, subject, []LogEntry{{
		Action: string(securityv1alpha1.AuditArchived), Operator: true,
		Details: map[string]string{"archive": key, "retainedUntil": until.UTC().Format(time.RFC3339)},
	}}); err != nil {
		return err
	}
	var evidence securityv1alpha1.EvidenceList
	if err := r.List(ctx, &evidence, client.InNamespace(incident.Namespace), client.MatchingFields{indexEvidenceIncident: incident.Name}); err != nil {
		return err
	}
	for i := range evidence.Items {
		if err := r.Delete(ctx, &evidence.Items[i], client.Preconditions{UID: &evidence.Items[i].UID}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("removing evidence %s of archived incident %s: %w", evidence.Items[i].Name, incident.Name, err)
		}
	}
	if err := r.Delete(ctx, incident, client.Preconditions{UID: &incident.UID}); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("removing archived incident %s: %w", incident.Name, err)
	}
	r.Events.normal(incident, "Archived", "Archive", "Retention ended: archived at %s and removed from the cluster", key)
	return nil
}

// keep says on the incident why it stays in the cluster after its
// retention ended.
func (r *RetentionReconciler) keep(ctx context.Context, incident *securityv1alpha1.Incident, reason, message string) error {
	current := meta.FindStatusCondition(incident.Status.Conditions, securityv1alpha1.ConditionRetained)
	if current != nil && current.Reason == reason && current.Message == message {
		return nil
	}
	before := incident.DeepCopy()
	setCondition(&incident.Status.Conditions, incident.Generation, r.Clock.Now(), securityv1alpha1.ConditionRetained, metav1.ConditionFalse, reason, message)
	if err := patchStatus(ctx, r.Client, incident, before, incidentStatus); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

func (r *RetentionReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&securityv1alpha1.Incident{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			// Only resolved incidents have a retention to end.
			incident, ok := o.(*securityv1alpha1.Incident)
			return ok && incident.Status.ResolvedAt != nil
		}))).
		WithOptions(controller.Options{MaxConcurrentReconciles: 2}).
		Named("retention").
		Complete(r)
}
