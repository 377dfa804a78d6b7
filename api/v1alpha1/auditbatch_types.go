package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AuditBatchSpec is one group commit of a namespace's audit log: the
// entries of every incident the operator recorded in a short window, in
// the log's order, with what chains the batch to the one before and the
// checkpoint the operator signed over the log it ends. It is created once
// and never changed (internal/translog reads and checks it).
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="an audit batch cannot be changed once written"
type AuditBatchSpec struct {
	// First is the index of the batch's first entry in the namespace's
	// log. The object is named for it (log- and 19 digits), so that two
	// writers appending at the same index collide instead of forking.
	// +kubebuilder:validation:Minimum=0
	// +required
	First int64 `json:"first"`

	// Entries are the batch's entries as JSON Lines, one entry a line, each
	// ending with a newline: the bytes the log hashes. They are opaque to
	// the API server, which stores them as one string.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1048576
	// +required
	Entries string `json:"entries"`

	// Previous is the hash of the batch before (base64), or of nothing for
	// the log's first batch.
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9+/]{43}=$`
	// +required
	Previous string `json:"previous"`

	// Root is the Merkle root (RFC 6962) of the whole log after this batch
	// (base64).
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9+/]{43}=$`
	// +required
	Root string `json:"root"`

	// Checkpoint is the log's checkpoint after this batch: the C2SP
	// signed note of origin, size and root, signed with the operator's
	// Ed25519 log key (kubectl incident audit key prints the public key).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	// +required
	Checkpoint string `json:"checkpoint"`
}

// AuditBatch is one batch of a namespace's append-only audit log: a
// transparency log, as Certificate Transparency keeps one, that numbers
// every entry of every incident in the namespace. Only the operator
// creates batches; nobody changes one; they are deleted only with the
// verb purge or with their namespace, and never while an incident whose
// entries they hold is under legal hold (config/admission). They have no
// owner, so they outlive the incidents they record.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=auditbatch,categories=incidentops
// +kubebuilder:printcolumn:name="First",type=integer,JSONPath=`.spec.first`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AuditBatch struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec AuditBatchSpec `json:"spec"`
}

// AuditBatchList is a list of AuditBatches.
//
// +kubebuilder:object:root=true
type AuditBatchList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AuditBatch `json:"items"`
}

func init() {
	SchemeBuilder.Register(&AuditBatch{}, &AuditBatchList{})
}
