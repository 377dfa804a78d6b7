package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AuditAction is what an audit entry records.
// +kubebuilder:validation:Enum=Reported;Changed;ChangeNotObserved;Routed;Notified;NotificationFailed;NotificationAbandoned;Escalated;SLAAtRisk;SLABreached;Acknowledged;Resolved;AuthorityNotified;AuthorityDeadlineMissed;ForensicInvestigation;EvidenceAdded;CustodyTransferred;LegalHoldPlaced;LegalHoldReleased;Deleted;ObligationOpened;FilingDecided;FilingDrafted;FilingAgreed;Filed;FilingAcknowledged;CorrespondenceRecorded;ObligationMissed;ObligationClosed;Archived
type AuditAction string

const (
	// AuditReported: the incident was created; the actor is the account
	// that created it and the details hold what was reported.
	AuditReported AuditAction = "Reported"
	// AuditChanged: a person changed fields of the spec; the details name
	// each field with its old and new value.
	AuditChanged AuditAction = "Changed"
	// AuditChangeNotObserved: the spec changed more than once between two
	// looks of the operator; the details name the generations whose change
	// is known only by its result.
	AuditChangeNotObserved AuditAction = "ChangeNotObserved"
	// AuditRouted: the incident was matched to policies (names and
	// generations in the details).
	AuditRouted AuditAction = "Routed"
	// AuditNotified: a notification was delivered.
	AuditNotified AuditAction = "Notified"
	// AuditNotificationFailed: an attempt failed and will be retried.
	AuditNotificationFailed AuditAction = "NotificationFailed"
	// AuditNotificationAbandoned: a notification will not be retried.
	AuditNotificationAbandoned AuditAction = "NotificationAbandoned"
	// AuditEscalated: the incident reached a higher escalation level.
	AuditEscalated AuditAction = "Escalated"
	// AuditSLAAtRisk: a service-level deadline is near.
	AuditSLAAtRisk AuditAction = "SLAAtRisk"
	// AuditSLABreached: a service-level deadline passed unmet.
	AuditSLABreached AuditAction = "SLABreached"
	// AuditAcknowledged: someone took the incident on.
	AuditAcknowledged AuditAction = "Acknowledged"
	// AuditResolved: the incident was closed.
	AuditResolved AuditAction = "Resolved"
	// AuditAuthorityNotified: the report to the supervisory authority was
	// recorded.
	AuditAuthorityNotified AuditAction = "AuthorityNotified"
	// AuditAuthorityDeadlineMissed: the authority was not told in time.
	AuditAuthorityDeadlineMissed AuditAction = "AuthorityDeadlineMissed"
	// AuditForensicInvestigation: the incident was marked for forensic
	// investigation.
	AuditForensicInvestigation AuditAction = "ForensicInvestigation"
	// AuditEvidenceAdded: an item of evidence was collected.
	AuditEvidenceAdded AuditAction = "EvidenceAdded"
	// AuditCustodyTransferred: an item of evidence changed hands.
	AuditCustodyTransferred AuditAction = "CustodyTransferred"
	// AuditLegalHoldPlaced and AuditLegalHoldReleased: a legal hold began
	// or ended.
	AuditLegalHoldPlaced   AuditAction = "LegalHoldPlaced"
	AuditLegalHoldReleased AuditAction = "LegalHoldReleased"
	// AuditDeleted: the incident was deleted. It is the trail's last
	// entry: a trail of a deleted incident that does not end with it has
	// lost its tail.
	AuditDeleted AuditAction = "Deleted"
	// AuditObligationOpened: a regime's stage applies to the incident and
	// its Filing was opened.
	AuditObligationOpened AuditAction = "ObligationOpened"
	// AuditFilingDecided: someone decided whether a stage is required.
	AuditFilingDecided AuditAction = "FilingDecided"
	// AuditFilingDrafted: someone drafted a stage's filing.
	AuditFilingDrafted AuditAction = "FilingDrafted"
	// AuditFilingAgreed: someone agreed to a draft or to a decision that a
	// stage is not required.
	AuditFilingAgreed AuditAction = "FilingAgreed"
	// AuditFiled: someone recorded a stage's filing with its recipient.
	AuditFiled AuditAction = "Filed"
	// AuditFilingAcknowledged: the recipient's acknowledgement was recorded.
	AuditFilingAcknowledged AuditAction = "FilingAcknowledged"
	// AuditCorrespondenceRecorded: a letter to or from the recipient was
	// recorded.
	AuditCorrespondenceRecorded AuditAction = "CorrespondenceRecorded"
	// AuditObligationMissed: a stage's deadline passed before it was filed.
	AuditObligationMissed AuditAction = "ObligationMissed"
	// AuditObligationClosed: the operator closed a stage nobody had to
	// decide: not applicable to a false positive or a duplicate, or not
	// required because the stage it follows is not.
	AuditObligationClosed AuditAction = "ObligationClosed"
	// AuditArchived: the incident's retention ended and it was archived
	// whole, at the key its details name, before it left the cluster.
	AuditArchived AuditAction = "Archived"
)

// AuditActor is who made an audited change: an account the API server
// authenticated, or the operator itself.
type AuditActor struct {
	// Operator is true for what the operator did (routing, notifying,
	// escalating, timing); Username is then empty.
	// +optional
	Operator bool `json:"operator,omitempty"`

	// Username the API server authenticated for the change. Empty with
	// Operator false when nobody can be named (see ChangeNotObserved).
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Username string `json:"username,omitempty"`

	// Groups of that user in the request.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=512
	// +listType=atomic
	// +optional
	Groups []string `json:"groups,omitempty"`
}

// AuditEntry is one link of an audit trail's hash chain. Hash is the
// SHA-256 of the entry's canonical encoding (internal/audit), which covers
// the previous entry's hash; Signature is an HMAC-SHA256, with a key only
// the operator reads, over the chain head this entry makes. Once stored an
// entry never changes.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="audit entries cannot be changed once written"
type AuditEntry struct {
	// Sequence numbers the trail's entries from 0 without gaps. A trail
	// holds at most 100001 segments of 256 entries.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=25600255
	// +required
	Sequence int64 `json:"sequence"`

	// Time the operator recorded the entry.
	// +required
	Time metav1.MicroTime `json:"time"`

	// Actor is who did it.
	// +required
	Actor AuditActor `json:"actor"`

	// Action is what happened.
	// +required
	Action AuditAction `json:"action"`

	// Details of what happened, such as the field changed with its old and
	// new value, or the receiver, channel and idempotency key of a
	// notification.
	// +kubebuilder:validation:MaxProperties=16
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.size() <= 63 && self[k].size() <= 1024)",message="detail keys are at most 63 characters and values at most 1024"
	// +mapType=atomic
	// +optional
	Details map[string]string `json:"details,omitempty"`

	// PreviousHash is the Hash of the entry before, or of the trail's
	// subject for entry 0.
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{64}$`
	// +required
	PreviousHash string `json:"previousHash"`

	// Hash is the hex SHA-256 of this entry's canonical encoding.
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{64}$`
	// +required
	Hash string `json:"hash"`

	// KeyID names the signing key, so that keys can be rotated.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +required
	KeyID string `json:"keyID"`

	// Signature is the hex HMAC-SHA256 of the chain head this entry makes.
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{64}$`
	// +required
	Signature string `json:"signature"`
}

// AuditSubject is what an audit trail is about.
type AuditSubject struct {
	// Kind of the subject: Incident.
	// +kubebuilder:validation:Enum=Incident
	// +required
	Kind string `json:"kind"`

	// Name of the subject, in the trail's namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`

	// UID of the subject, so that a trail is never taken for that of a
	// later object of the same name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +required
	UID string `json:"uid"`
}

// AuditTrailSegmentSize is how many entries one AuditTrail object holds:
// segment n holds sequences [n*size, (n+1)*size). It keeps each object far
// below etcd's size limit however long an incident lives.
const AuditTrailSegmentSize = 256

// AuditTrailSpec is one segment of a subject's trail.
// +kubebuilder:validation:XValidation:rule="self.subject == oldSelf.subject && self.segment == oldSelf.segment",message="subject and segment cannot be changed"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.entries) || (has(self.entries) && self.entries.size() >= oldSelf.entries.size())",message="entries is append-only: entries cannot be removed",fieldPath=".entries"
// +kubebuilder:validation:XValidation:rule="!has(self.entries) || self.entries.all(e, e.sequence >= self.segment * 256 && e.sequence < self.segment * 256 + self.entries.size())",message="entries must be numbered without gaps from segment*256",fieldPath=".entries"
type AuditTrailSpec struct {
	// Subject is what the trail records.
	// +required
	Subject AuditSubject `json:"subject"`

	// Segment numbers this object among the subject's trail objects.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100000
	// +required
	Segment int64 `json:"segment"`

	// Entries of this segment. Existing entries cannot be changed or
	// removed; only the operator's account may append (config/admission).
	// +kubebuilder:validation:MaxItems=256
	// +listType=map
	// +listMapKey=sequence
	// +optional
	Entries []AuditEntry `json:"entries,omitempty"`
}

// AuditTrailStatus is written by the operator.
type AuditTrailStatus struct {
	// LegalHold is true while the subject is under legal hold: the API
	// server then refuses to delete the trail.
	// +optional
	LegalHold bool `json:"legalHold,omitempty"`
}

// AuditTrail is one segment of the append-only, hash-chained record of an
// incident's life: who reported it, each change a person made, routing,
// every notification, escalation, deadlines, evidence and legal holds.
// It has no owner, so it outlives the incident it records.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=audit,categories=incidentops
// +kubebuilder:printcolumn:name="Subject",type=string,JSONPath=`.spec.subject.name`
// +kubebuilder:printcolumn:name="Segment",type=integer,JSONPath=`.spec.segment`
// +kubebuilder:printcolumn:name="Legal-Hold",type=boolean,JSONPath=`.status.legalHold`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AuditTrail struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec AuditTrailSpec `json:"spec"`
	// +optional
	Status AuditTrailStatus `json:"status,omitempty"`
}

// AuditTrailList is a list of AuditTrails.
//
// +kubebuilder:object:root=true
type AuditTrailList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AuditTrail `json:"items"`
}

// AuditHead is the last entry of a trail, as the operator signed it. The
// incident keeps it in its status, so that a trail cut short is found.
type AuditHead struct {
	// Sequence of the last entry.
	// +kubebuilder:validation:Minimum=0
	Sequence int64 `json:"sequence"`
	// Hash of the last entry.
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{64}$`
	Hash string `json:"hash"`
	// KeyID of the signing key.
	// +kubebuilder:validation:MaxLength=63
	KeyID string `json:"keyID"`
	// Signature of the head.
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{64}$`
	Signature string `json:"signature"`
}

// AuditStatus is where an incident's record stands.
type AuditStatus struct {
	// Log is where the incident's entries sit in its namespace's audit log
	// (AuditBatches): how many, and the index of the last.
	// +optional
	Log *AuditLogPosition `json:"log,omitempty"`

	// Head is the last entry of the incident's AuditTrail, for an incident
	// recorded before the audit log: its earlier entries stay in the trail,
	// which the operator no longer writes.
	// +optional
	Head *AuditHead `json:"head,omitempty"`

	// ObservedGeneration is the last generation of the spec whose change
	// the trail records.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Exported is no longer written: it keeps what an earlier version of
	// the operator recorded, the ordinal, from 0, of the incident's last
	// entry in the audit log that the external audit sink acknowledged.
	// The operator now exports each namespace's log on its own, and keeps
	// how far it got in the ConfigMap incident-operator-audit-export of
	// its namespace (incidentops_audit_export_lag_entries counts what the
	// sink lacks).
	// +optional
	Exported *int64 `json:"exported,omitempty"`

	// LegalHold is true once the trail's objects are marked held.
	// +optional
	LegalHold bool `json:"legalHold,omitempty"`

	// Evidence recorded in the trail, with how many custody transfers of
	// each.
	// +kubebuilder:validation:MaxItems=1000
	// +listType=map
	// +listMapKey=name
	// +optional
	Evidence []EvidenceRecord `json:"evidence,omitempty"`

	// Filings recorded in the trail, with how many of each one's steps.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	// +optional
	Filings []FilingRecord `json:"filings,omitempty"`
}

// AuditLogPosition is where an incident's entries sit in its namespace's
// audit log: how many there are, and the index of the last. The log may
// hold more of them than the status counts (entries are stored before
// the status that they explain), never fewer.
type AuditLogPosition struct {
	// Entries of the incident in the log.
	// +kubebuilder:validation:Minimum=1
	Entries int64 `json:"entries"`
	// Last is the index of the incident's last entry in the log.
	// +kubebuilder:validation:Minimum=0
	Last int64 `json:"last"`
}

// EvidenceRecord is how much of an item of evidence the trail records.
type EvidenceRecord struct {
	// Name of the Evidence.
	Name string `json:"name"`
	// UID of the Evidence.
	UID string `json:"uid"`
	// Transfers recorded.
	Transfers int32 `json:"transfers"`
}

// FilingRecord is how much of a Filing the trail records. Each step is
// made once, and agreements and correspondence are append-only, so what is
// recorded is what the Filing held when it was last read.
type FilingRecord struct {
	// Name of the Filing.
	Name string `json:"name"`
	// UID of the Filing.
	UID string `json:"uid"`
	// Decided is true once the decision is recorded.
	// +optional
	Decided bool `json:"decided,omitempty"`
	// Drafted is true once the draft is recorded.
	// +optional
	Drafted bool `json:"drafted,omitempty"`
	// Agreements recorded.
	// +optional
	Agreements int32 `json:"agreements,omitempty"`
	// Filed is true once the filing is recorded.
	// +optional
	Filed bool `json:"filed,omitempty"`
	// Acknowledged is true once the acknowledgement is recorded.
	// +optional
	Acknowledged bool `json:"acknowledged,omitempty"`
	// Correspondence recorded.
	// +optional
	Correspondence int32 `json:"correspondence,omitempty"`
}

func init() {
	SchemeBuilder.Register(&AuditTrail{}, &AuditTrailList{})
}
