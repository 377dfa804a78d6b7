package v1alpha1

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IncidentType distinguishes an incident that happened from a weakness that
// could let one happen; both are reported the same way.
// +kubebuilder:validation:Enum=Incident;Weakness
type IncidentType string

const (
	TypeIncident IncidentType = "Incident"
	TypeWeakness IncidentType = "Weakness"
)

// IncidentCategory is what kind of event was reported.
// +kubebuilder:validation:Enum=Loss;Theft;Destruction;PhysicalSecurityBreach;Malware;Phishing;UnauthorisedDisclosure;SystemMalfunction;InadequateDisposal;PasswordExposure;PolicyNonCompliance;InappropriateRecordAccess;ChainLetter;CredentialMisuse;Other
type IncidentCategory string

const (
	// CategoryLoss is the loss of equipment, data or information, including removable media.
	CategoryLoss IncidentCategory = "Loss"
	// CategoryTheft is the theft of equipment, data or information.
	CategoryTheft IncidentCategory = "Theft"
	// CategoryDestruction is the destruction of an information asset.
	CategoryDestruction IncidentCategory = "Destruction"
	// CategoryPhysicalSecurityBreach is a breach of physical security arrangements.
	CategoryPhysicalSecurityBreach IncidentCategory = "PhysicalSecurityBreach"
	// CategoryMalware is a computer infected by a virus or other malware.
	CategoryMalware IncidentCategory = "Malware"
	// CategoryPhishing is unsolicited mail of an offensive nature or asking for personal data.
	CategoryPhishing IncidentCategory = "Phishing"
	// CategoryUnauthorisedDisclosure is information faxed, e-mailed, posted or handed to an unintended recipient.
	CategoryUnauthorisedDisclosure IncidentCategory = "UnauthorisedDisclosure"
	// CategorySystemMalfunction is a fault or malfunction, including ones that may compromise security.
	CategorySystemMalfunction IncidentCategory = "SystemMalfunction"
	// CategoryInadequateDisposal is confidential material not disposed of properly.
	CategoryInadequateDisposal IncidentCategory = "InadequateDisposal"
	// CategoryPasswordExposure is a password written down or left on display.
	CategoryPasswordExposure IncidentCategory = "PasswordExposure"
	// CategoryPolicyNonCompliance is non-compliance with policies or guidelines.
	CategoryPolicyNonCompliance IncidentCategory = "PolicyNonCompliance"
	// CategoryInappropriateRecordAccess is a person's record accessed without a need to.
	CategoryInappropriateRecordAccess IncidentCategory = "InappropriateRecordAccess"
	// CategoryChainLetter is a chain letter, virus warning or scam warning received or forwarded.
	CategoryChainLetter IncidentCategory = "ChainLetter"
	// CategoryCredentialMisuse is a system accessed with someone else's user id and password.
	CategoryCredentialMisuse IncidentCategory = "CredentialMisuse"
	// CategoryOther is anything else; the list in the policies is not exhaustive.
	CategoryOther IncidentCategory = "Other"
)

// Severity is how bad an incident is.
// +kubebuilder:validation:Enum=Low;Medium;High;Critical
type Severity string

const (
	SeverityLow      Severity = "Low"
	SeverityMedium   Severity = "Medium"
	SeverityHigh     Severity = "High"
	SeverityCritical Severity = "Critical"
)

// Reporter is the person who reported the incident.
type Reporter struct {
	Contact `json:",inline"`

	// Department the reporter works in.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	// +kubebuilder:validation:XValidation:rule="!self.matches(r'[\\x00-\\x1f\\x7f-\\x9f\\x{200e}\\x{200f}\\x{202a}-\\x{202e}\\x{2066}-\\x{2069}]')",message="must be one line of printable text: control characters (newline, tab, ESC) and bidirectional overrides are refused"
	Department string `json:"department,omitempty"`

	// LineManager is the reporter's line manager, or in their absence another
	// appropriate manager in the department, who is told first.
	// +optional
	LineManager *Contact `json:"lineManager,omitempty"`
}

// Impact records what an incident touches. Policies match on these flags.
// +kubebuilder:validation:XValidation:rule="!self.?specialCategoryData.orValue(false) || self.?personalData.orValue(false)",message="specialCategoryData is personal data: set personalData too",fieldPath=".personalData"
// +kubebuilder:validation:XValidation:rule="!self.?socialCare.orValue(false) || self.?personalData.orValue(false)",message="social-care records are personal data: set personalData too",fieldPath=".personalData"
type Impact struct {
	// PersonalData is true when personal data of staff, service users or the
	// public is involved.
	// +optional
	PersonalData bool `json:"personalData,omitempty"`

	// SpecialCategoryData is true when special-category personal data
	// (health, ethnicity, beliefs and so on) is involved.
	// +optional
	SpecialCategoryData bool `json:"specialCategoryData,omitempty"`

	// SocialCare is true when the data relates to social-care service users.
	// +optional
	SocialCare bool `json:"socialCare,omitempty"`

	// ITRelated is true for events and weaknesses the IT service desk must hear about.
	// +optional
	ITRelated bool `json:"itRelated,omitempty"`

	// ServiceAffecting is true when a service is disrupted.
	// +optional
	ServiceAffecting bool `json:"serviceAffecting,omitempty"`

	// BusinessCritical is true when a business-critical system is affected.
	// +optional
	BusinessCritical bool `json:"businessCritical,omitempty"`

	// SecurityBreach is true when the incident is a breach of security.
	// +optional
	SecurityBreach bool `json:"securityBreach,omitempty"`

	// DataSubjects is the estimated number of people whose data is involved.
	// +kubebuilder:validation:Minimum=0
	// +optional
	DataSubjects *int32 `json:"dataSubjects,omitempty"`
}

// Attestation is who did something, as the API server authenticated the
// request that did it. An admission policy (config/admission) writes it:
// whatever a client sends in its place is overwritten, and it cannot be
// changed afterwards.
type Attestation struct {
	// Username the API server authenticated.
	// +kubebuilder:validation:MaxLength=512
	// +optional
	Username string `json:"username,omitempty"`
	// Groups the user belonged to in that request.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=512
	// +listType=atomic
	// +optional
	Groups []string `json:"groups,omitempty"`
}

// Acknowledgement records that someone has taken the incident on.
type Acknowledgement struct {
	// By is who acknowledged the incident.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +required
	// +kubebuilder:validation:XValidation:rule="!self.matches(r'[\\x00-\\x1f\\x7f-\\x9f\\x{200e}\\x{200f}\\x{202a}-\\x{202e}\\x{2066}-\\x{2069}]')",message="must be one line of printable text: control characters (newline, tab, ESC) and bidirectional overrides are refused"
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	By string `json:"by"`

	// Note for the people who were told.
	// +kubebuilder:validation:MaxLength=2000
	// +optional
	Note string `json:"note,omitempty"`

	// AttestedBy is the account that made the acknowledgement, written by
	// the API server.
	// +optional
	AttestedBy *Attestation `json:"attestedBy,omitempty"`
}

// ResolutionState is how an incident ended.
// +kubebuilder:validation:Enum=Resolved;FalsePositive;Duplicate
type ResolutionState string

const (
	ResolutionResolved      ResolutionState = "Resolved"
	ResolutionFalsePositive ResolutionState = "FalsePositive"
	ResolutionDuplicate     ResolutionState = "Duplicate"
)

// Resolution records that the incident is closed.
type Resolution struct {
	// State is how the incident ended.
	// +required
	State ResolutionState `json:"state"`

	// By is who resolved the incident.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +required
	// +kubebuilder:validation:XValidation:rule="!self.matches(r'[\\x00-\\x1f\\x7f-\\x9f\\x{200e}\\x{200f}\\x{202a}-\\x{202e}\\x{2066}-\\x{2069}]')",message="must be one line of printable text: control characters (newline, tab, ESC) and bidirectional overrides are refused"
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	By string `json:"by"`

	// Summary of what was done, for the control document.
	// +kubebuilder:validation:MaxLength=4000
	// +optional
	Summary string `json:"summary,omitempty"`

	// AttestedBy is the account that resolved the incident, written by the
	// API server.
	// +optional
	AttestedBy *Attestation `json:"attestedBy,omitempty"`
}

// AuthorityNotification records that a personal data breach was reported to
// the supervisory authority, such as the ICO.
type AuthorityNotification struct {
	// NotifiedAt is when the authority was told.
	// +required
	// +kubebuilder:validation:XValidation:rule="self >= timestamp('2000-01-01T00:00:00Z')",message="must be in 2000 or later: an earlier time is a zero or epoch value, not when this happened"
	NotifiedAt metav1.Time `json:"notifiedAt"`

	// Reference the authority gave the report.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	// +kubebuilder:validation:XValidation:rule="!self.matches(r'[\\x00-\\x1f\\x7f-\\x9f\\x{200e}\\x{200f}\\x{202a}-\\x{202e}\\x{2066}-\\x{2069}]')",message="must be one line of printable text: control characters (newline, tab, ESC) and bidirectional overrides are refused"
	Reference string `json:"reference,omitempty"`

	// DelayReason says why the report was made after the deadline. The API
	// server requires it then (GDPR Art. 33(1)).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4000
	// +optional
	DelayReason string `json:"delayReason,omitempty"`

	// RecordedBy is the account that recorded the report, written by the
	// API server.
	// +optional
	RecordedBy *Attestation `json:"recordedBy,omitempty"`
}

// IncidentSpec is what was reported.
// +kubebuilder:validation:XValidation:rule="!has(self.authorityNotification) || has(self.authorityNotification.delayReason) || !has(self.awareAt) || self.authorityNotification.notifiedAt <= self.awareAt + duration('72h')",message="authorityNotification.delayReason is required: the authority was told more than 72 hours after awareAt",fieldPath=".authorityNotification.delayReason"
// +kubebuilder:validation:XValidation:rule="has(self.awareAt) == has(oldSelf.awareAt)",message="awareAt can be set only when the incident is reported, and not removed",fieldPath=".awareAt"
// +kubebuilder:validation:XValidation:rule="has(self.reportedAt) == has(oldSelf.reportedAt)",message="reportedAt can be set only when the incident is reported, and not removed",fieldPath=".reportedAt"
// +kubebuilder:validation:XValidation:rule="!has(self.awareAt) || !has(self.reportedAt) || self.awareAt <= self.reportedAt",message="awareAt is after reportedAt: the organisation knew of the event by the time it was reported",fieldPath=".awareAt"
// +kubebuilder:validation:XValidation:rule="!has(self.authorityNotification) || !has(self.awareAt) || self.authorityNotification.notifiedAt >= self.awareAt",message="authorityNotification.notifiedAt is before awareAt: the authority cannot be told of a breach before the organisation knew of it",fieldPath=".authorityNotification.notifiedAt"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.acknowledgement) || has(self.acknowledgement)",message="acknowledgement cannot be removed once made",fieldPath=".acknowledgement"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.acknowledgement) || !has(self.acknowledgement) || self.acknowledgement == oldSelf.acknowledgement",message="acknowledgement cannot be changed once made: it is the record of who took the incident on",fieldPath=".acknowledgement"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.resolution) || has(self.resolution)",message="resolution cannot be removed; report a new incident instead",fieldPath=".resolution"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.resolution) || !has(self.resolution) || self.resolution == oldSelf.resolution",message="resolution cannot be changed once made; report a new incident instead",fieldPath=".resolution"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.authorityNotification) || (has(self.authorityNotification) && self.authorityNotification == oldSelf.authorityNotification)",message="authorityNotification cannot be changed or removed once recorded",fieldPath=".authorityNotification"
// +kubebuilder:validation:XValidation:rule="has(self.reportedBy) == has(oldSelf.reportedBy) && (!has(self.reportedBy) || self.reportedBy == oldSelf.reportedBy)",message="reportedBy is written by the API server when the incident is reported, and never changed",fieldPath=".reportedBy"
// +kubebuilder:validation:XValidation:rule="!has(self.authorityNotification) || self.impact.?personalData.orValue(false)",message="authorityNotification is only for incidents involving personal data: set impact.personalData",fieldPath=".authorityNotification"
// +kubebuilder:validation:XValidation:rule="has(self.imported) == has(oldSelf.imported) && (!has(self.imported) || self.imported == oldSelf.imported)",message="imported is written by the API server when the incident is created, and never changed",fieldPath=".imported"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.legalHold) || has(self.legalHold)",message="legalHold cannot be removed: release it, so that who released it is recorded",fieldPath=".legalHold"
type IncidentSpec struct {
	// Title is a one-line summary.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
	// +kubebuilder:validation:XValidation:rule="!self.matches(r'[\\x00-\\x1f\\x7f-\\x9f\\x{200e}\\x{200f}\\x{202a}-\\x{202e}\\x{2066}-\\x{2069}]')",message="must be one line of printable text: control characters (newline, tab, ESC) and bidirectional overrides are refused"
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="title must not be blank: it needs a letter, digit, punctuation mark or symbol"
	// +required
	Title string `json:"title"`

	// Description says what happened, with symptoms and any error messages.
	// +kubebuilder:validation:MaxLength=10000
	// +optional
	Description string `json:"description,omitempty"`

	// Type is Incident for an event that happened, Weakness for the
	// potential for one.
	// +kubebuilder:default=Incident
	// +optional
	Type IncidentType `json:"type,omitempty"`

	// Category of the event.
	// +required
	Category IncidentCategory `json:"category"`

	// Severity of the event.
	// +required
	Severity Severity `json:"severity"`

	// Reporter is who reported the event.
	// +required
	Reporter Reporter `json:"reporter"`

	// ReportedBy is the account that created the incident, beside the
	// reporter's name: written by the API server when the incident is
	// created, and never changed.
	// +optional
	ReportedBy *Attestation `json:"reportedBy,omitempty"`

	// Assets are the names of Assets in this namespace that the event affects.
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	// +listType=set
	// +optional
	Assets []string `json:"assets,omitempty"`

	// Impact records what the event touches.
	// +optional
	Impact Impact `json:"impact,omitempty"`

	// ReportedAt is when the report was made, for a report that reached
	// the desk before it was recorded here, such as one queued out of hours
	// or imported from a spreadsheet: the service desk's clock (SLA
	// targets) starts here. Absent, the report is the incident's creation
	// and the SLA counts from when it was routed, the desk first told. It
	// can be set only when the incident is created, cannot lie after that
	// (the API server refuses it), and cannot be changed.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="reportedAt cannot be changed once set"
	// +optional
	// +kubebuilder:validation:XValidation:rule="self >= timestamp('2000-01-01T00:00:00Z')",message="must be in 2000 or later: an earlier time is a zero or epoch value, not when this happened"
	ReportedAt *metav1.Time `json:"reportedAt,omitempty"`

	// AwareAt is when the organisation became aware of the event; regulatory
	// clocks start here. Defaults to reportedAt. It cannot be after
	// reportedAt: an event is known by the time it is reported. It is set
	// only when the incident is reported, never after the report (the API
	// server refuses a later time), and cannot be changed.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="awareAt cannot be changed once set"
	// +optional
	// +kubebuilder:validation:XValidation:rule="self >= timestamp('2000-01-01T00:00:00Z')",message="must be in 2000 or later: an earlier time is a zero or epoch value, not when this happened"
	AwareAt *metav1.Time `json:"awareAt,omitempty"`

	// Acknowledgement stops escalation: someone has taken the incident on.
	// +optional
	Acknowledgement *Acknowledgement `json:"acknowledgement,omitempty"`

	// Resolution closes the incident and stops every clock.
	// +optional
	Resolution *Resolution `json:"resolution,omitempty"`

	// AuthorityNotification records the report of a personal data breach to
	// the supervisory authority.
	// +optional
	AuthorityNotification *AuthorityNotification `json:"authorityNotification,omitempty"`

	// ForensicInvestigation marks an incident whose evidence must be
	// collected under forensic rules (SH 5.1): a policy can match on it to
	// tell Internal Audit at once, even when it is set after the incident
	// was routed.
	// +optional
	ForensicInvestigation bool `json:"forensicInvestigation,omitempty"`

	// LegalHold, while placed and not released, keeps the incident, its
	// evidence and its audit trail from being changed or deleted. Placing
	// and releasing it needs the verb "hold" on incidents.
	// +optional
	LegalHold *LegalHold `json:"legalHold,omitempty"`

	// Imported says the incident was created from an earlier record, such
	// as a control document, with records already made (acknowledgement,
	// resolution, the authority report, a legal hold). Only an account
	// allowed the verb "import" on incidents may create such an incident;
	// the API server writes who did and which records came with it.
	// +optional
	Imported *Import `json:"imported,omitempty"`

	// Changes are the latest changes to this spec, oldest first, each with
	// who made it and every field's old and new value: written by the API
	// server on every update that changes the spec (config/admission), so
	// that two changes in quick succession are both kept with their
	// authors. It holds the last SpecChangesKept changes; the operator
	// copies each into the audit trail.
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +optional
	Changes []SpecChange `json:"changes,omitempty"`
}

// SpecChangesKept is how many changes spec.changes keeps: a change is
// lost from it only when more than this many follow it before the
// operator records them, which the trail then says (ChangeNotObserved).
const SpecChangesKept = 16

// Import is how an incident created from an earlier record came in.
type Import struct {
	// By is the account that imported the incident, written by the API
	// server.
	// +optional
	By *Attestation `json:"by,omitempty"`

	// Records the incident was created with, such as acknowledgement and
	// resolution, written by the API server.
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=64
	// +listType=atomic
	// +optional
	Records []string `json:"records,omitempty"`
}

// Includes reports whether the incident was created with the record
// named by its field, such as "acknowledgement".
func (in *Import) Includes(record string) bool {
	return in != nil && slices.Contains(in.Records, record)
}

// LegalHold keeps an incident and its record as they are, for litigation
// or an investigation.
// +kubebuilder:validation:XValidation:rule="has(oldSelf.released) || (self.reason == oldSelf.reason && has(self.placedBy) == has(oldSelf.placedBy) && (!has(self.placedBy) || self.placedBy == oldSelf.placedBy))",message="a legal hold in force can only be released, not changed"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.released) || !has(self.released) || self.released == oldSelf.released",message="a release cannot be changed; place a new hold instead",fieldPath=".released"
type LegalHold struct {
	// Reason for the hold, such as a case reference.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1000
	// +required
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	Reason string `json:"reason"`

	// PlacedBy is the account that placed the hold, written by the API
	// server.
	// +optional
	PlacedBy *Attestation `json:"placedBy,omitempty"`

	// Released ends the hold.
	// +optional
	Released *LegalHoldRelease `json:"released,omitempty"`
}

// LegalHoldRelease ends a legal hold.
type LegalHoldRelease struct {
	// Reason the hold ends.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1000
	// +required
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	Reason string `json:"reason"`

	// By is the account that released the hold, written by the API server.
	// +optional
	By *Attestation `json:"by,omitempty"`
}

// Active reports whether the hold is in force.
func (h *LegalHold) Active() bool { return h != nil && h.Released == nil }

// SpecChange is one update of an incident's spec, as the API server saw it.
type SpecChange struct {
	// Generation the change made.
	// +required
	Generation int64 `json:"generation"`

	// By is the account that made the change.
	// +required
	By Attestation `json:"by"`

	// Fields changed, each with its old and new value.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	Fields []FieldChange `json:"fields,omitempty"`
}

// FieldChange is one field of a SpecChange.
type FieldChange struct {
	// Field is the path of the field under spec, such as severity.
	// +kubebuilder:validation:MaxLength=64
	// +required
	Field string `json:"field"`
	// From is the old value.
	// +kubebuilder:validation:MaxLength=10000
	// +optional
	From string `json:"from,omitempty"`
	// To is the new value.
	// +kubebuilder:validation:MaxLength=10000
	// +optional
	To string `json:"to,omitempty"`
}

// IncidentPhase is where the incident is in its life.
// +kubebuilder:validation:Enum=Pending;Unrouted;Open;Escalated;Acknowledged;Resolved
type IncidentPhase string

const (
	// PhasePending: the operator has not looked at the incident yet.
	PhasePending IncidentPhase = "Pending"
	// PhaseUnrouted: no EscalationPolicy matches the incident, so nobody has
	// been told. It is routed as soon as a matching policy appears.
	PhaseUnrouted IncidentPhase = "Unrouted"
	// PhaseOpen: the incident is routed and its first people are told.
	PhaseOpen IncidentPhase = "Open"
	// PhaseEscalated: nobody has acknowledged the incident, and a policy has
	// escalated it past level 0.
	PhaseEscalated IncidentPhase = "Escalated"
	// PhaseAcknowledged: someone has taken the incident on; escalation stops.
	PhaseAcknowledged IncidentPhase = "Acknowledged"
	// PhaseResolved: the incident is closed; every clock stops.
	PhaseResolved IncidentPhase = "Resolved"
)

// PolicyReference pins an EscalationPolicy at the generation that routed
// the incident, and says how far the incident has climbed its escalation.
type PolicyReference struct {
	// Kind of the policy: EscalationPolicy, in the incident's namespace
	// (when unset), or ClusterEscalationPolicy.
	// +kubebuilder:validation:Enum=EscalationPolicy;ClusterEscalationPolicy
	// +optional
	Kind string `json:"kind,omitempty"`
	// Name of the policy. A namespace's policy never shares its name with
	// a cluster policy that applies to the namespace, so the name alone
	// identifies the policy in notification records and the audit trail.
	Name string `json:"name"`
	// Generation of the policy when it routed the incident.
	Generation int64 `json:"generation"`
	// Level of the escalation chain reached.
	// +optional
	Level int32 `json:"level"`
	// Repeat is how many times the chain has started again.
	// +optional
	Repeat int32 `json:"repeat,omitempty"`
	// LevelReachedAt is when the level was reached.
	// +optional
	LevelReachedAt *metav1.Time `json:"levelReachedAt,omitempty"`
	// MatchedAsset names the asset whose attributes made the policy's
	// spec.match.assets hold.
	// +optional
	MatchedAsset string `json:"matchedAsset,omitempty"`
	// JoinedAt is when the policy joined an incident routed before it
	// matched (a change of the incident made it match); its escalation
	// counts from then. Absent for the policies that routed the incident.
	// +optional
	JoinedAt *metav1.Time `json:"joinedAt,omitempty"`
	// NextEscalationAt is when the next level is due unless the incident is
	// acknowledged first; unset when the chain is exhausted or stopped.
	// +optional
	NextEscalationAt *metav1.Time `json:"nextEscalationAt,omitempty"`
}

// NotificationRecord is one delivery of a notification to a receiver.
type NotificationRecord struct {
	DeliveryAttempt `json:",inline"`
	// Policy that asked for the delivery.
	Policy string `json:"policy"`
	// Level of the policy's escalation chain.
	Level int32 `json:"level"`
	// FallbackFor is the key of the abandoned delivery that this one
	// replaces, when this is a delivery to the policy's fallback receiver.
	// +optional
	FallbackFor string `json:"fallbackFor,omitempty"`
	// Role is set when the recipient was found by role; Recipient is then
	// the address the mail goes to.
	// +optional
	Role Role `json:"role,omitempty"`
	// +optional
	Recipient string `json:"recipient,omitempty"`
	// StandsInFor names who the recipient was told in place of: a line
	// manager or department manager absent at the time, per the
	// reporter's Department.
	// +optional
	StandsInFor string `json:"standsInFor,omitempty"`
	// Notice is set for a notice about a change rather than an escalation:
	// Major, Escalated, Acknowledged, Resolved, SLAAtRisk, and for a
	// regulatory obligation AwaitingAgreement and ObligationDue.
	// +optional
	Notice string `json:"notice,omitempty"`
	// Obligation names the regulatory obligation, as regime/stage, that an
	// AwaitingAgreement or ObligationDue notice is about.
	// +kubebuilder:validation:MaxLength=127
	// +optional
	Obligation string `json:"obligation,omitempty"`
}

// SLAStatus holds the service-level deadlines of an incident.
type SLAStatus struct {
	// Policy whose target applies.
	Policy string `json:"policy"`
	// Hours the targets count: Business or Calendar.
	Hours HoursKind `json:"hours"`
	// AcknowledgeBy is when the incident must be acknowledged.
	// +optional
	AcknowledgeBy *metav1.Time `json:"acknowledgeBy,omitempty"`
	// ResolveBy is when the incident must be resolved.
	// +optional
	ResolveBy *metav1.Time `json:"resolveBy,omitempty"`
	// AcknowledgeAtRiskAt and ResolveAtRiskAt are when SLAAtRisk fires.
	// +optional
	AcknowledgeAtRiskAt *metav1.Time `json:"acknowledgeAtRiskAt,omitempty"`
	// +optional
	ResolveAtRiskAt *metav1.Time `json:"resolveAtRiskAt,omitempty"`
}

// IncidentStatus is the observed state of an Incident.
type IncidentStatus struct {
	// ObservedGeneration is the generation of the spec last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Phase of the incident.
	// +optional
	Phase IncidentPhase `json:"phase,omitempty"`

	// AwareAt is when the organisation became aware of the incident:
	// spec.awareAt, or the creation time when that is not set.
	// +optional
	AwareAt *metav1.Time `json:"awareAt,omitempty"`

	// RoutedAt is when the incident was matched to its policies, to the
	// nanosecond: the escalation and SLA deadlines count from it, so
	// incidents routed within the same second fall due apart. Objects
	// stored before hold whole seconds.
	// +optional
	RoutedAt *PreciseTime `json:"routedAt,omitempty"`

	// AcknowledgedAt is when the operator first saw spec.acknowledgement.
	// +optional
	AcknowledgedAt *metav1.Time `json:"acknowledgedAt,omitempty"`

	// ResolvedAt is when the operator first saw spec.resolution.
	// +optional
	ResolvedAt *metav1.Time `json:"resolvedAt,omitempty"`

	// EscalationLevel is the highest escalation level any policy has reached.
	// +kubebuilder:default=0
	// +optional
	EscalationLevel int32 `json:"escalationLevel"`

	// SLA holds the service-level deadlines.
	// +optional
	SLA *SLAStatus `json:"sla,omitempty"`

	// AuthorityNotificationDeadline is when a personal data breach must be
	// reported to the supervisory authority by.
	// +optional
	AuthorityNotificationDeadline *metav1.Time `json:"authorityNotificationDeadline,omitempty"`

	// Policies that matched the incident, in the order they were evaluated,
	// each pinned at the generation that routed it.
	// +listType=map
	// +listMapKey=name
	// +optional
	Policies []PolicyReference `json:"policies,omitempty"`

	// Obligations are what the regulatory regimes that apply to the
	// incident ask of it, one per regime and stage, in the regimes' order.
	// Each is recorded step by step on the Filing it names.
	// +listType=map
	// +listMapKey=regime
	// +listMapKey=stage
	// +kubebuilder:validation:MaxItems=64
	// +optional
	Obligations []ObligationStatus `json:"obligations,omitempty"`

	// NextObligation is the open obligation due soonest, as regime/stage,
	// with NextObligationDeadline: what `kubectl get incidents -o wide`
	// shows.
	// +optional
	NextObligation string `json:"nextObligation,omitempty"`

	// NextObligationDeadline is when NextObligation is due; unset when it
	// has no fixed deadline.
	// +optional
	NextObligationDeadline *metav1.Time `json:"nextObligationDeadline,omitempty"`

	// Notifications records every delivery the operator owes or has made.
	// +listType=map
	// +listMapKey=key
	// +optional
	Notifications []NotificationRecord `json:"notifications,omitempty"`

	// Conditions: Routed, Notified, Ready, Reconciling, Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Audit is where the incident's audit trail stands.
	// +optional
	Audit *AuditStatus `json:"audit,omitempty"`
}

// ObligationState is how far an obligation has come.
// +kubebuilder:validation:Enum=ToDecide;Waiting;Required;NotRequired;Drafted;Agreed;Filed;Acknowledged;NotApplicable
type ObligationState string

const (
	// ObligationToDecide: nobody has decided yet whether the stage is
	// required, or a decision that it is not awaits its agreements. An
	// incident with an obligation to decide cannot be resolved.
	ObligationToDecide ObligationState = "ToDecide"
	// ObligationWaiting: a stage that follows the filing of an earlier one
	// not filed yet; there is nothing to decide until then.
	ObligationWaiting ObligationState = "Waiting"
	// ObligationRequired: decided required, not drafted yet.
	ObligationRequired ObligationState = "Required"
	// ObligationNotRequired: decided not required, with its reasons, and
	// agreed.
	ObligationNotRequired ObligationState = "NotRequired"
	// ObligationDrafted: drafted, awaiting agreement.
	ObligationDrafted ObligationState = "Drafted"
	// ObligationAgreed: agreed by as many people as the stage asks.
	ObligationAgreed ObligationState = "Agreed"
	// ObligationFiled: filed with the recipient.
	ObligationFiled ObligationState = "Filed"
	// ObligationAcknowledged: the recipient acknowledged the filing.
	ObligationAcknowledged ObligationState = "Acknowledged"
	// ObligationNotApplicable: the incident was resolved as a false positive
	// or a duplicate, so there was nothing to tell.
	ObligationNotApplicable ObligationState = "NotApplicable"
)

// Open reports whether the obligation still asks something of people.
func (s ObligationState) Open() bool {
	switch s {
	case ObligationNotRequired, ObligationFiled, ObligationAcknowledged, ObligationNotApplicable:
		return false
	}
	return true
}

// ObligationStatus is one stage of one regime as it stands for the
// incident.
type ObligationStatus struct {
	// Regime is the RegulatoryRegime's name.
	// +kubebuilder:validation:MaxLength=63
	Regime string `json:"regime"`
	// Stage is the stage's name in the regime.
	// +kubebuilder:validation:MaxLength=63
	Stage string `json:"stage"`
	// Citation of the provision the stage comes from.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	Citation string `json:"citation,omitempty"`
	// Recipient the filing goes to.
	// +optional
	Recipient Recipient `json:"recipient,omitempty"`
	// Filing is the name of the Filing that records the stage's steps.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Filing string `json:"filing,omitempty"`
	// State is how far the obligation has come.
	State ObligationState `json:"state"`
	// DecidedAt is when the stage was decided required or not, or drafted:
	// the decision's own time, else when the operator first saw it.
	// +optional
	DecidedAt *metav1.Time `json:"decidedAt,omitempty"`
	// Deadline is when the stage is due; unset when the rules give no fixed
	// time, when it is not required, or while its clock has not started.
	// +optional
	Deadline *metav1.Time `json:"deadline,omitempty"`
	// Frozen is true once the stage is filed: its deadline is then fixed,
	// and correcting awareness afterwards never moves it.
	// +optional
	Frozen bool `json:"frozen,omitempty"`
	// WithoutUndueDelay is true when the rules set no fixed time, only
	// "without undue delay".
	// +optional
	WithoutUndueDelay bool `json:"withoutUndueDelay,omitempty"`
	// AgreementsNeeded is how many more agreements its draft, or a
	// decision that it is not required, needs; 0 when none awaits.
	// +optional
	AgreementsNeeded int32 `json:"agreementsNeeded,omitempty"`
	// Missed is true when the stage was filed after its deadline, or is not
	// filed and its deadline has passed.
	// +optional
	Missed bool `json:"missed,omitempty"`
	// Missing says what is still to be done; empty when nothing is.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Missing string `json:"missing,omitempty"`
}

// MaxNotificationsPerIncident is the ceiling of notification records one
// incident holds. Every record lives in the incident's status, which etcd
// stores whole (about 1.5 MiB at most); a record takes about 400 bytes.
const MaxNotificationsPerIncident = 1000

// Incident condition types and reasons.
const (
	// ConditionRouted is True once the incident is matched to at least one policy.
	ConditionRouted = "Routed"
	// ConditionNotified is True once every notification owed so far is delivered.
	ConditionNotified = "Notified"

	ReasonMatched            = "Matched"
	ReasonNoMatchingPolicy   = "NoMatchingPolicy"
	ReasonDelivered          = "Delivered"
	ReasonDelivering         = "Delivering"
	ReasonNotificationFailed = "NotificationFailed"
	// ReasonNotificationAbandoned: a notification used up its attempts.
	ReasonNotificationAbandoned = "NotificationAbandoned"

	// ConditionSLAAtRisk is True while a service-level deadline is near.
	ConditionSLAAtRisk = "SLAAtRisk"
	// ConditionSLABreached is True once a deadline passed unmet.
	ConditionSLABreached = "SLABreached"
	// ConditionAuthorityNotificationRequired is True while a personal data
	// breach still has to be reported to the supervisory authority.
	ConditionAuthorityNotificationRequired = "AuthorityNotificationRequired"
	// ConditionAuthorityNotified is True once it has been.
	ConditionAuthorityNotified = "AuthorityNotified"
	// ConditionAuthorityDeadlineMissed is True when it was not reported in time.
	ConditionAuthorityDeadlineMissed = "AuthorityDeadlineMissed"
	// ConditionMajor is True for a major incident.
	ConditionMajor = "Major"
	// ConditionRegulatoryObligations is True while a regulatory regime asks
	// something of the incident, with what is due first.
	ConditionRegulatoryObligations = "RegulatoryObligations"
	// ConditionObligationMissed is True once a stage of a regime missed its
	// deadline; it stays so.
	ConditionObligationMissed = "ObligationMissed"
	// ConditionAssetsFound is False when an asset the incident names does not exist.
	ConditionAssetsFound = "AssetsFound"
	// ConditionInputValid is False when the spec holds what cannot be
	// right (stored before the API server refused it), such as an awareAt
	// after the report or impact flags that contradict each other; the
	// message names each field and what the operator does instead. It is
	// absent otherwise.
	ConditionInputValid = "InputValid"
	// ConditionNotificationsComplete is False when the incident reached the
	// ceiling of notification records (MaxNotificationsPerIncident) and
	// further notifications were not recorded or sent.
	ConditionNotificationsComplete = "NotificationsComplete"

	ReasonWithinTarget            = "WithinTarget"
	ReasonAcknowledgeDueSoon      = "AcknowledgeDueSoon"
	ReasonResolveDueSoon          = "ResolveDueSoon"
	ReasonAcknowledgeTargetMissed = "AcknowledgeTargetMissed"
	ReasonResolveTargetMissed     = "ResolveTargetMissed"
	ReasonTargetsMet              = "TargetsMet"
	ReasonPersonalData            = "PersonalDataInvolved"
	ReasonReported                = "Reported"
	ReasonReportedLate            = "ReportedLate"
	ReasonNotReported             = "NotReported"
	ReasonNotRequired             = "NotRequired"
	ReasonMajorIncident           = "MajorIncident"
	ReasonNotMajor                = "NotMajor"
	ReasonAssetNotFound           = "AssetNotFound"
	ReasonAllFound                = "AllFound"
	ReasonStoppedOnResolution     = "Resolved"
	ReasonTimeInFuture            = "TimeInFuture"
	ReasonInconsistent            = "Inconsistent"
	ReasonNotificationLimit       = "NotificationLimitReached"
	ReasonUndecided               = "Undecided"
	ReasonDue                     = "Due"
	ReasonAllMet                  = "AllMet"
	ReasonDeadlineMissed          = "DeadlineMissed"
	ReasonInTime                  = "InTime"
)

// Incident is an information-security event or weakness that someone
// reported: a lost laptop, malware, a letter sent to the wrong person, a
// password on a sticky note, a system fault.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=inc,categories=incidentops
// +kubebuilder:validation:XValidation:rule="!has(self.spec.authorityNotification) || has(self.spec.authorityNotification.delayReason) || !has(self.status) || !has(self.status.authorityNotificationDeadline) || self.spec.authorityNotification.notifiedAt <= self.status.authorityNotificationDeadline || (has(oldSelf.spec.authorityNotification) && oldSelf.spec.authorityNotification == self.spec.authorityNotification)",message="spec.authorityNotification.delayReason is required: the authority was told after status.authorityNotificationDeadline",fieldPath=".spec.authorityNotification"
// +kubebuilder:printcolumn:name="Category",type=string,JSONPath=`.spec.category`
// +kubebuilder:printcolumn:name="Severity",type=string,JSONPath=`.spec.severity`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Policy",type=string,JSONPath=`.status.policies[0].name`
// +kubebuilder:printcolumn:name="Level",type=integer,JSONPath=`.status.escalationLevel`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="SLA-Breached",type=string,JSONPath=`.status.conditions[?(@.type=="SLABreached")].status`,priority=1
// +kubebuilder:printcolumn:name="Authority-By",type=string,JSONPath=`.status.authorityNotificationDeadline`,priority=1
// +kubebuilder:printcolumn:name="Next-Obligation",type=string,JSONPath=`.status.nextObligation`,priority=1
// +kubebuilder:printcolumn:name="Obligation-By",type=string,JSONPath=`.status.nextObligationDeadline`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Title",type=string,JSONPath=`.spec.title`,priority=1
// +kubebuilder:printcolumn:name="Reporter",type=string,JSONPath=`.spec.reporter.name`,priority=1
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`,priority=1
// +kubebuilder:printcolumn:name="Notified",type=string,JSONPath=`.status.conditions[?(@.type=="Notified")].status`,priority=1
// +kubebuilder:printcolumn:name="Personal-Data",type=boolean,JSONPath=`.spec.impact.personalData`,priority=1
type Incident struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec IncidentSpec `json:"spec"`
	// +optional
	Status IncidentStatus `json:"status,omitempty"`
}

// IncidentList is a list of Incidents.
//
// +kubebuilder:object:root=true
type IncidentList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Incident `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Incident{}, &IncidentList{})
}
