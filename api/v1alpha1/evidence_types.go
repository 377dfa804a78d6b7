package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EvidenceKind is what an item of evidence is.
// +kubebuilder:validation:Enum=Device;DiskImage;File;Log;Document;PaperRecord
type EvidenceKind string

const (
	EvidenceDevice      EvidenceKind = "Device"
	EvidenceDiskImage   EvidenceKind = "DiskImage"
	EvidenceFile        EvidenceKind = "File"
	EvidenceLog         EvidenceKind = "Log"
	EvidenceDocument    EvidenceKind = "Document"
	EvidencePaperRecord EvidenceKind = "PaperRecord"
)

// Digital reports whether evidence of this kind is bytes whose SHA-256
// identifies them.
func (k EvidenceKind) Digital() bool {
	return k == EvidenceDiskImage || k == EvidenceFile || k == EvidenceLog
}

// CustodyTransfer is one change of hands of an item of evidence.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="a custody transfer cannot be changed once recorded"
type CustodyTransfer struct {
	// Sequence numbers the transfers from 0.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=255
	// +required
	Sequence int32 `json:"sequence"`

	// From is who handed the item over.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +required
	// +kubebuilder:validation:XValidation:rule="!self.matches(r'[\\x00-\\x1f\\x7f-\\x9f\\x{200e}\\x{200f}\\x{202a}-\\x{202e}\\x{2066}-\\x{2069}]')",message="must be one line of printable text: control characters (newline, tab, ESC) and bidirectional overrides are refused"
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	From string `json:"from"`

	// To is who received it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +required
	// +kubebuilder:validation:XValidation:rule="!self.matches(r'[\\x00-\\x1f\\x7f-\\x9f\\x{200e}\\x{200f}\\x{202a}-\\x{202e}\\x{2066}-\\x{2069}]')",message="must be one line of printable text: control characters (newline, tab, ESC) and bidirectional overrides are refused"
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	To string `json:"to"`

	// At is when it changed hands.
	// +required
	// +kubebuilder:validation:XValidation:rule="self >= timestamp('2000-01-01T00:00:00Z')",message="must be in 2000 or later: an earlier time is a zero or epoch value, not when this happened"
	At metav1.Time `json:"at"`

	// Reason for the transfer.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1000
	// +required
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	Reason string `json:"reason"`

	// StorageLocation is where the item is kept after the transfer, when
	// that changed.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	// +kubebuilder:validation:XValidation:rule="!self.matches(r'[\\x00-\\x1f\\x7f-\\x9f\\x{200e}\\x{200f}\\x{202a}-\\x{202e}\\x{2066}-\\x{2069}]')",message="must be one line of printable text: control characters (newline, tab, ESC) and bidirectional overrides are refused"
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	StorageLocation string `json:"storageLocation,omitempty"`

	// AttestedBy is the account that recorded the transfer, written by the
	// API server.
	// +optional
	AttestedBy *Attestation `json:"attestedBy,omitempty"`
}

// EvidenceSpec describes an item of evidence and who has held it.
// +kubebuilder:validation:XValidation:rule="has(self.sha256) == has(oldSelf.sha256)",message="sha256 cannot be added or removed once recorded",fieldPath=".sha256"
// +kubebuilder:validation:XValidation:rule="has(self.collectedBy) == has(oldSelf.collectedBy)",message="collectedBy is written by the API server when the evidence is recorded, and never changed",fieldPath=".collectedBy"
// +kubebuilder:validation:XValidation:rule="!(self.kind in ['DiskImage', 'File', 'Log']) || has(self.sha256)",message="sha256 is required for digital evidence (DiskImage, File, Log)",fieldPath=".sha256"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.custody) || (has(self.custody) && self.custody.size() >= oldSelf.custody.size())",message="custody is append-only: transfers cannot be removed",fieldPath=".custody"
// +kubebuilder:validation:XValidation:rule="self.description == oldSelf.description",message="description cannot be changed once recorded: it is what was collected",fieldPath=".description"
// +kubebuilder:validation:XValidation:rule="self.storageLocation == oldSelf.storageLocation || (has(self.custody) && self.custody.exists(t, t.sequence == (has(oldSelf.custody) ? oldSelf.custody.size() : 0) && has(t.storageLocation) && t.storageLocation == self.storageLocation))",message="storageLocation changes only with the custody transfer that moves the item there (its storageLocation)",fieldPath=".storageLocation"
// +kubebuilder:validation:XValidation:rule="!has(self.custody) || self.custody.all(t, t.sequence < self.custody.size())",message="custody transfers must be numbered from 0 without gaps",fieldPath=".custody"
type EvidenceSpec struct {
	// Incident is the name of the Incident, in this namespace, that the
	// evidence belongs to.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="cannot be changed once recorded"
	Incident string `json:"incident"`

	// Kind of item.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="cannot be changed once recorded"
	Kind EvidenceKind `json:"kind"`

	// Description of the item, such as a make, model and serial number.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2000
	// +required
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	Description string `json:"description"`

	// SHA256 is the hex SHA-256 of the item's bytes: required for digital
	// items, so that anyone holding a copy can show it is the same.
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{64}$`
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="cannot be changed once recorded"
	SHA256 string `json:"sha256,omitempty"`

	// StorageLocation is where the item is kept.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +required
	// +kubebuilder:validation:XValidation:rule="!self.matches(r'[\\x00-\\x1f\\x7f-\\x9f\\x{200e}\\x{200f}\\x{202a}-\\x{202e}\\x{2066}-\\x{2069}]')",message="must be one line of printable text: control characters (newline, tab, ESC) and bidirectional overrides are refused"
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	StorageLocation string `json:"storageLocation"`

	// CollectedBy is the account that recorded the collection, written by
	// the API server.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="cannot be changed once recorded"
	CollectedBy *Attestation `json:"collectedBy,omitempty"`

	// CollectedAt is when the item was collected.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="cannot be changed once recorded"
	// +kubebuilder:validation:XValidation:rule="self >= timestamp('2000-01-01T00:00:00Z')",message="must be in 2000 or later: an earlier time is a zero or epoch value, not when this happened"
	CollectedAt metav1.Time `json:"collectedAt"`

	// Custody lists each change of hands, oldest first. Transfers are
	// only appended, one per request; each is attested by the API server
	// and cannot be changed. At most 256: an item that changes hands more
	// often is recorded again as a new item of evidence.
	// +kubebuilder:validation:MaxItems=256
	// +listType=map
	// +listMapKey=sequence
	// +optional
	Custody []CustodyTransfer `json:"custody,omitempty"`
}

// EvidenceStatus is written by the operator.
type EvidenceStatus struct {
	// ObservedGeneration is the generation last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Holder is who holds the item now: the last transfer's recipient, or
	// the collector.
	// +optional
	Holder string `json:"holder,omitempty"`

	// LegalHold is true while the incident is under legal hold: the API
	// server then refuses to change or delete the evidence.
	// +optional
	LegalHold bool `json:"legalHold,omitempty"`

	// Conditions: Ready is False when the incident does not exist or the
	// custody log does not hold together.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Evidence is an item collected for an incident's investigation (SH 5.1):
// a device, a disk image, a file, a log, a document or a paper record, with
// its digest and its chain of custody.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ev,categories=incidentops
// +kubebuilder:printcolumn:name="Incident",type=string,JSONPath=`.spec.incident`
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.kind`
// +kubebuilder:printcolumn:name="Holder",type=string,JSONPath=`.status.holder`
// +kubebuilder:printcolumn:name="Legal-Hold",type=boolean,JSONPath=`.status.legalHold`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="SHA256",type=string,JSONPath=`.spec.sha256`,priority=1
type Evidence struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec EvidenceSpec `json:"spec"`
	// +optional
	Status EvidenceStatus `json:"status,omitempty"`
}

// EvidenceList is a list of Evidence.
//
// +kubebuilder:object:root=true
type EvidenceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Evidence `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Evidence{}, &EvidenceList{})
}
