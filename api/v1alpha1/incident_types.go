package v1alpha1

import (
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

// IncidentSpec is what was reported.
type IncidentSpec struct {
	// Title is a one-line summary.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=200
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

	// AwareAt is when the organisation became aware of the event; regulatory
	// clocks start here. Defaults to the incident's creation time. It cannot
	// be changed once set.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="awareAt cannot be changed once set"
	// +optional
	AwareAt *metav1.Time `json:"awareAt,omitempty"`
}

// IncidentPhase is where the incident is in its life.
// +kubebuilder:validation:Enum=Pending;Unrouted;Open
type IncidentPhase string

const (
	// PhasePending: the operator has not looked at the incident yet.
	PhasePending IncidentPhase = "Pending"
	// PhaseUnrouted: no EscalationPolicy matches the incident, so nobody has
	// been told. It is routed as soon as a matching policy appears.
	PhaseUnrouted IncidentPhase = "Unrouted"
	// PhaseOpen: the incident is routed and its notifications are under way.
	PhaseOpen IncidentPhase = "Open"
)

// PolicyReference pins an EscalationPolicy at the generation that routed the incident.
type PolicyReference struct {
	// Name of the EscalationPolicy.
	Name string `json:"name"`
	// Generation of the policy when it routed the incident.
	Generation int64 `json:"generation"`
}

// DeliveryState is the state of one notification.
// +kubebuilder:validation:Enum=Pending;Delivered;Failed;Abandoned
type DeliveryState string

const (
	// DeliveryPending: the notification is due and not yet delivered.
	DeliveryPending DeliveryState = "Pending"
	// DeliveryDelivered: the receiver accepted the notification.
	DeliveryDelivered DeliveryState = "Delivered"
	// DeliveryFailed: the last attempt failed; it is retried with backoff.
	DeliveryFailed DeliveryState = "Failed"
	// DeliveryAbandoned: every attempt the policy allows failed. The
	// policy's fallback receiver, if it names one, is told instead.
	DeliveryAbandoned DeliveryState = "Abandoned"
)

// NotificationRecord is one delivery of a notification to a receiver.
type NotificationRecord struct {
	// Key identifies the delivery. It is sent as the Idempotency-Key and is
	// the same on every retry, so receivers can drop duplicates.
	Key string `json:"key"`
	// Policy that asked for the delivery.
	Policy string `json:"policy"`
	// Level of the policy's escalation chain.
	Level int32 `json:"level"`
	// Receiver that the notification goes to.
	Receiver string `json:"receiver"`
	// Channel is the kind of receiver, such as webhook.
	Channel string `json:"channel"`
	// State of the delivery.
	State DeliveryState `json:"state"`
	// Attempts made so far.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// LastAttemptAt is when the last attempt was made.
	// +optional
	LastAttemptAt *metav1.Time `json:"lastAttemptAt,omitempty"`
	// NextAttemptAt is when a failed delivery is retried.
	// +optional
	NextAttemptAt *metav1.Time `json:"nextAttemptAt,omitempty"`
	// DeliveredAt is when the receiver accepted the notification.
	// +optional
	DeliveredAt *metav1.Time `json:"deliveredAt,omitempty"`
	// LastError is why the last attempt failed.
	// +optional
	LastError string `json:"lastError,omitempty"`
	// FallbackFor is the key of the abandoned delivery that this one
	// replaces, when this is a delivery to the policy's fallback receiver.
	// +optional
	FallbackFor string `json:"fallbackFor,omitempty"`
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

	// RoutedAt is when the incident was matched to its policies.
	// +optional
	RoutedAt *metav1.Time `json:"routedAt,omitempty"`

	// Policies that matched the incident, in the order they were evaluated,
	// each pinned at the generation that routed it.
	// +listType=map
	// +listMapKey=name
	// +optional
	Policies []PolicyReference `json:"policies,omitempty"`

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
}

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
)

// Incident is an information-security event or weakness that someone
// reported: a lost laptop, malware, a letter sent to the wrong person, a
// password on a sticky note, a system fault.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=inc,categories=incidentops
// +kubebuilder:printcolumn:name="Category",type=string,JSONPath=`.spec.category`
// +kubebuilder:printcolumn:name="Severity",type=string,JSONPath=`.spec.severity`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Policy",type=string,JSONPath=`.status.policies[0].name`
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
