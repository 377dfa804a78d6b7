package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/record"
	"github.com/incidentops/incident-operator/internal/routing"
)

// +kubebuilder:rbac:groups=security.incidentops.io,resources=incidents,verbs=patch;seal
// +kubebuilder:rbac:groups=security.incidentops.io,resources=evidences,verbs=list;watch

// AuditFinalizer keeps a deleted incident until its trail records the
// deletion. The admission policies add it when the incident is created.
const AuditFinalizer = "security.incidentops.io/audit-trail"

// indexEvidenceIncident indexes evidence by the incident it belongs to.
const indexEvidenceIncident = "spec.incident"

// commit records in the namespace's audit log what changed since before,
// then writes the status with where the incident's entries sit in the log.
// When the log cannot be written the status is not either: the next
// reconcile starts from the status the log matches, and nothing the status
// says is missing from the log. Export to the audit sink is not part of
// it: the exporter watches the log and sends it on its own, so commit
// asks for no wake of its own (its duration is zero).
func (r *IncidentReconciler) commit(ctx context.Context, incident, before *securityv1alpha1.Incident) (time.Duration, error) {
	if incident.Status.Audit == nil {
		incident.Status.Audit = &securityv1alpha1.AuditStatus{}
	}
	trail := incident.Status.Audit
	entries := record.Observe(&before.Status, incident)
	evidence, err := r.evidenceOf(ctx, incident)
	if err != nil {
		return 0, err
	}
	more, evidenceRecorded := record.Evidence(trail.Evidence, evidence)
	entries = append(entries, more...)
	filings, err := r.filingsOf(ctx, incident)
	if err != nil {
		return 0, err
	}
	steps, filingsRecorded := record.Filings(trail.Filings, slices.Collect(maps.Values(filings)))
	if trail.Log != nil || trail.Head != nil {
		// What people recorded on the Filings comes before what the
		// operator concluded from it in the same reconcile; an incident's
		// first entry is always the report.
		entries = append(steps, entries...)
	} else {
		entries = append(entries, steps...)
	}
	position, err := r.record(ctx, incident, entries)
	if err != nil {
		r.Events.warning(incident, EventAuditNotRecorded, "RecordAudit", "The audit log could not be written, so the status was not either; retrying: %v", err)
		if errors.Is(err, ErrLogSigningWithheld) {
			r.markSigningWithheld(ctx, before, err)
		}
		return 0, fmt.Errorf("%w: %w", errAuditNotRecorded, err)
	}
	trail.Log = position
	trail.Evidence = evidenceRecorded
	trail.Filings = filingsRecorded
	trail.ObservedGeneration = incident.Generation
	if err := patchStatus(ctx, r.Client, incident, before, incidentStatus); err != nil {
		return 0, err
	}
	observeRecorded(incident, &before.Status)
	return 0, nil
}

// record stores entries in the incident's namespace's log, and returns
// where its entries then sit; nil while it has none.
func (r *IncidentReconciler) record(ctx context.Context, incident *securityv1alpha1.Incident, entries []record.Entry) (*securityv1alpha1.AuditLogPosition, error) {
	subject, err := r.logSubject(ctx, incident)
	if err != nil {
		return nil, err
	}
	var recorded int64
	if incident.Status.Audit != nil && incident.Status.Audit.Log != nil {
		recorded = incident.Status.Audit.Log.Entries
	}
	position, err := r.Audit.Log.Record(ctx, subject, recorded, entries)
	if err != nil {
		return nil, err
	}
	if position.Entries == 0 {
		return nil, nil
	}
	return &securityv1alpha1.AuditLogPosition{Entries: position.Entries, Last: position.Last}, nil
}

// logSubject is the incident as its namespace's log names it.
func (r *IncidentReconciler) logSubject(ctx context.Context, incident *securityv1alpha1.Incident) (LogSubject, error) {
	return subjectIn(ctx, r.Client, incident)
}

// subjectIn is the incident as its namespace's log names it. The namespace
// is read as metadata, from the cache the controllers' namespace watches
// fill, whatever namespaces the operator watches.
func subjectIn(ctx context.Context, reader client.Reader, incident *securityv1alpha1.Incident) (LogSubject, error) {
	namespace := &metav1.PartialObjectMetadata{}
	namespace.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
	if err := reader.Get(ctx, types.NamespacedName{Name: incident.Namespace}, namespace); err != nil {
		return LogSubject{}, fmt.Errorf("reading namespace %s for its audit log: %w", incident.Namespace, err)
	}
	return LogSubject{Namespace: incident.Namespace, Name: incident.Name, UID: incident.UID, NamespaceUID: namespace.UID}, nil
}

// subjectOf is the AuditTrail subject of an incident recorded before the
// audit log.
func subjectOf(incident *securityv1alpha1.Incident) securityv1alpha1.AuditSubject {
	return securityv1alpha1.AuditSubject{Kind: "Incident", Name: incident.Name, UID: string(incident.UID)}
}

// errAuditNotRecorded marks a reconcile whose status was not written
// because its audit entries could not be.
var errAuditNotRecorded = errors.New("audit entries not recorded")

// markSigningWithheld says on the incident why nothing of it is recorded:
// the status the log already matches, with only Ready and Reconciling
// changed, which the trail does not record.
func (r *IncidentReconciler) markSigningWithheld(ctx context.Context, before *securityv1alpha1.Incident, withheld error) {
	marked := before.DeepCopy()
	markReconciling(&marked.Status.Conditions, before.Generation, r.Clock.Now(), ReasonAuditSigningWithheld, withheld.Error())
	if err := patchStatus(ctx, r.Client, marked, before, incidentStatus); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Saying on the incident that audit signing is withheld")
	}
}

// ReasonAuditSigningWithheld is Ready's reason while the audit log key is
// missing or not the one that signed the log: nothing is recorded, and the
// reconcile is retried every auditSigningRetry until an administrator
// restores the key.
const ReasonAuditSigningWithheld = "AuditSigningWithheld"

// auditSigningRetry is how often an incident is tried again while signing
// is withheld: on a timer, not a growing backoff, so that recording
// resumes soon after the key is restored.
const auditSigningRetry = 30 * time.Second

// evidenceOf lists the evidence recorded for the incident.
func (r *IncidentReconciler) evidenceOf(ctx context.Context, incident *securityv1alpha1.Incident) ([]securityv1alpha1.Evidence, error) {
	var list securityv1alpha1.EvidenceList
	if err := r.List(ctx, &list, client.InNamespace(incident.Namespace), client.MatchingFields{indexEvidenceIncident: incident.Name}); err != nil {
		return nil, fmt.Errorf("listing the evidence of incident %s: %w", incident.Name, err)
	}
	return list.Items, nil
}

// ensureFinalizer adds the audit finalizer where the admission policy did
// not (an incident created before it was installed).
func (r *IncidentReconciler) ensureFinalizer(ctx context.Context, incident *securityv1alpha1.Incident) error {
	if controllerutil.ContainsFinalizer(incident, AuditFinalizer) {
		return nil
	}
	original := incident.DeepCopy()
	controllerutil.AddFinalizer(incident, AuditFinalizer)
	if err := r.Patch(ctx, incident, client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("adding the audit finalizer: %w", err)
	}
	return nil
}

// seal records the deletion as the incident's last entry and lets the
// incident go. Its entries stay in the log, which the exporter sends to the
// audit sink on its own: a deletion does not wait for the sink.
func (r *IncidentReconciler) seal(ctx context.Context, incident *securityv1alpha1.Incident) error {
	if !controllerutil.ContainsFinalizer(incident, AuditFinalizer) {
		return nil
	}
	if incident.Status.Audit == nil {
		incident.Status.Audit = &securityv1alpha1.AuditStatus{}
	}
	var entries []record.Entry
	if incident.Status.Audit.Log == nil && incident.Status.Audit.Head == nil {
		entries = append(entries, record.Reported(incident))
	}
	recorded, err := r.deletionRecorded(ctx, incident)
	if err != nil {
		return err
	}
	if !recorded {
		entries = append(entries, record.Deleted(incident))
	}
	position, err := r.record(ctx, incident, entries)
	if err != nil {
		return fmt.Errorf("%w: %w", errAuditNotRecorded, err)
	}
	incident.Status.Audit.Log = position
	original := incident.DeepCopy()
	controllerutil.RemoveFinalizer(incident, AuditFinalizer)
	return client.IgnoreNotFound(r.Patch(ctx, incident, client.MergeFrom(original)))
}

// routeLate adds the policies that match the incident since a person
// changed it, such as the rule that tells Internal Audit of an incident
// marked for forensic investigation. No policy leaves: those that routed
// the incident keep it. A joining policy's escalation starts now.
func (r *IncidentReconciler) routeLate(ctx context.Context, incident *securityv1alpha1.Incident) error {
	set, err := r.policySet(ctx, incident.Namespace)
	if err != nil {
		return err
	}
	decision := set.index.Route(incident, r.assetsOf(ctx, incident))
	now := r.now()
	for _, m := range decision.Matched {
		if isPinned(incident, m.Name) {
			continue
		}
		ref := routing.Reference(m, decision)
		ref.JoinedAt = &now
		incident.Status.Policies = append(incident.Status.Policies, ref)
		r.Events.normal(incident, EventRouted, "Route", "%s %s now matches this incident and joins its routing", m.Kind, m.Name)
	}
	return nil
}

func isPinned(incident *securityv1alpha1.Incident, policy string) bool {
	for _, p := range incident.Status.Policies {
		if p.Name == policy {
			return true
		}
	}
	return false
}
