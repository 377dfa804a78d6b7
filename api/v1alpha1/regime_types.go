package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Regulatory regimes as data: what a law or a regulator's rules ask of an
// organisation after an incident, stage by stage. These are the spec types a
// cluster-scoped catalogue kind will carry; internal/obligation turns a
// regime and an incident's facts into obligations with deadlines.

// Recipient is who a stage's filing goes to.
// +kubebuilder:validation:Enum=SupervisoryAuthority;CompetentAuthority;CSIRT;DataSubjects;Controller
type Recipient string

const (
	// RecipientSupervisoryAuthority is the data protection authority, such as
	// the ICO (UK GDPR Art. 33, PECR reg. 5A).
	RecipientSupervisoryAuthority Recipient = "SupervisoryAuthority"
	// RecipientCompetentAuthority is the sector regulator or competent
	// authority (NIS2 Art. 23, DORA Art. 19, the CSR Bill's regulator).
	RecipientCompetentAuthority Recipient = "CompetentAuthority"
	// RecipientCSIRT is the national computer security incident response
	// team, such as the NCSC.
	RecipientCSIRT Recipient = "CSIRT"
	// RecipientDataSubjects is the people whose personal data was breached
	// (UK GDPR Art. 34).
	RecipientDataSubjects Recipient = "DataSubjects"
	// RecipientController is the controller a processor works for (UK GDPR
	// Art. 33(2)).
	RecipientController Recipient = "Controller"
)

// ClockStart is the event a stage's deadline runs from.
// +kubebuilder:validation:Enum=Awareness;Classification;Filing
type ClockStart string

const (
	// ClockFromAwareness runs from when the organisation became aware of the
	// incident (UK GDPR Art. 33(1), NIS2 Art. 23(4)(a)).
	ClockFromAwareness ClockStart = "Awareness"
	// ClockFromClassification runs from when the incident was classified as
	// significant or major (DORA Art. 19(4) and its technical standards).
	ClockFromClassification ClockStart = "Classification"
	// ClockFromFiling runs from when an earlier stage of the same regime was
	// filed (NIS2 Art. 23(4)(d): one month after the incident notification).
	ClockFromFiling ClockStart = "Filing"
)

// StageOpener is the decision that makes a stage required. The decision is
// about the incident, so a stage not decided itself follows the nearest
// earlier stage of its regime opened by the same decision: deciding a NIS2
// incident significant opens its notification and final report as well as
// its early warning, while UK GDPR's Art. 34 (HighRisk) is decided apart from
// its Art. 33 (Risk).
// +kubebuilder:validation:Enum=Always;Risk;HighRisk;Significant;Major;Incomplete
type StageOpener string

const (
	// OpenedAlways needs no decision: every incident the regime applies to
	// must be filed (PECR reg. 5A: every personal data breach).
	OpenedAlways StageOpener = "Always"
	// OpenedByRisk is required unless the breach is unlikely to result in a
	// risk to people's rights and freedoms (UK GDPR Art. 33(1)).
	OpenedByRisk StageOpener = "Risk"
	// OpenedByHighRisk is required only when the breach is likely to result in
	// a high risk to people's rights and freedoms (UK GDPR Art. 34(1)).
	OpenedByHighRisk StageOpener = "HighRisk"
	// OpenedBySignificant is required when the incident is significant
	// (NIS2 Art. 23(3), the CSR Bill).
	OpenedBySignificant StageOpener = "Significant"
	// OpenedByMajor is required when the incident is classified as major
	// (DORA Art. 18 and 19).
	OpenedByMajor StageOpener = "Major"
	// OpenedByIncomplete is required when an earlier filing could not carry
	// everything the rules ask for, which may then follow in phases (UK GDPR
	// Art. 33(4)).
	OpenedByIncomplete StageOpener = "Incomplete"
)

// RegulatoryRegimeSpec is one regime: the stages of what must be told to
// whom, and by when, after an incident.
type RegulatoryRegimeSpec struct {
	// Description of the regime, as people know it, such as "UK GDPR:
	// personal data breaches".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!self.matches(r'[\\x00-\\x1f\\x7f-\\x9f\\x{200e}\\x{200f}\\x{202a}-\\x{202e}\\x{2066}-\\x{2069}]')",message="must be one line of printable text: control characters (newline, tab, ESC) and bidirectional overrides are refused"
	// +required
	Description string `json:"description"`

	// Citation of the law or rules the regime comes from, such as "UK GDPR
	// Art. 33 and 34".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!self.matches(r'[\\x00-\\x1f\\x7f-\\x9f\\x{200e}\\x{200f}\\x{202a}-\\x{202e}\\x{2066}-\\x{2069}]')",message="must be one line of printable text: control characters (newline, tab, ESC) and bidirectional overrides are refused"
	// +required
	Citation string `json:"citation"`

	// AppliesTo limits the regime to incidents with these impact flags,
	// whatever policy names it: UK GDPR applies to personal data breaches
	// only. A regime without it applies to every incident a policy names it
	// for.
	// +optional
	AppliesTo *ImpactMatch `json:"appliesTo,omitempty"`

	// Stages of the regime, in the order they are filed. A stage whose clock
	// runs from a filing names a stage listed before it.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(i, s, !has(s.anchor) || s.anchor.from != 'Filing' || self.exists(j, t, j < i && t.name == s.anchor.stage))",message="a stage whose clock runs from a filing must name a stage listed before it"
	// +required
	Stages []RegimeStage `json:"stages"`
}

// RegimeStage is one thing the regime asks for: a filing to one recipient,
// with its deadline, what the clock runs from, what it must say and how many
// people must agree to it.
//
// A stage has exactly one of deadline, deadlineMonths and withoutUndueDelay.
// "Without undue delay" is a deadline of its own kind, with no fixed hours:
// the operator never turns it into a number it would have to invent.
//
// +kubebuilder:validation:XValidation:rule="(has(self.deadline) ? 1 : 0) + (has(self.deadlineMonths) ? 1 : 0) + (has(self.withoutUndueDelay) && self.withoutUndueDelay ? 1 : 0) == 1",message="exactly one of deadline, deadlineMonths and withoutUndueDelay: a stage has a fixed time limit or none"
// +kubebuilder:validation:XValidation:rule="!has(self.maxFromAwareness) || (has(self.anchor) && self.anchor.from == 'Classification' && has(self.deadline))",message="maxFromAwareness caps a deadline counted from classification: it needs anchor.from Classification and a deadline",fieldPath=".maxFromAwareness"
type RegimeStage struct {
	// Name of the stage, unique in the regime, such as "notification" or
	// "final-report".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +required
	Name string `json:"name"`

	// Citation of the provision the stage comes from, such as "UK GDPR Art.
	// 33(1)".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:XValidation:rule="!self.matches(r'[\\x00-\\x1f\\x7f-\\x9f\\x{200e}\\x{200f}\\x{202a}-\\x{202e}\\x{2066}-\\x{2069}]')",message="must be one line of printable text: control characters (newline, tab, ESC) and bidirectional overrides are refused"
	// +required
	Citation string `json:"citation"`

	// Recipient the stage's filing goes to.
	// +required
	Recipient Recipient `json:"recipient"`

	// Deadline is how long after the clock starts the stage must be filed,
	// in hours or shorter units: 24h, 72h.
	// +optional
	Deadline *Duration `json:"deadline,omitempty"`

	// DeadlineMonths is the deadline in calendar months after the clock
	// starts, for the rules that say "one month": a month is not a fixed
	// number of hours. A day the month lacks is its last day (one month after
	// 31 January is 28 or 29 February).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=12
	// +optional
	DeadlineMonths int32 `json:"deadlineMonths,omitempty"`

	// WithoutUndueDelay is true when the rules set no fixed time, only
	// "without undue delay" (UK GDPR Art. 34(1)). The stage then has no
	// deadline and is never shown as missed on a clock.
	// +optional
	WithoutUndueDelay bool `json:"withoutUndueDelay,omitempty"`

	// Anchor is what the deadline runs from; awareness when not set.
	// +optional
	Anchor *StageAnchor `json:"anchor,omitempty"`

	// MaxFromAwareness caps a deadline counted from classification at this
	// long after awareness, whichever comes first: DORA's initial
	// notification is due 4 hours after classification as major and at most
	// 24 hours after awareness.
	// +optional
	MaxFromAwareness *Duration `json:"maxFromAwareness,omitempty"`

	// RequiredContent names the fields every filing of the stage must carry,
	// such as nature, dataSubjects, records, contact, consequences and
	// measures for UK GDPR Art. 33(3)(a)-(d).
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z][A-Za-z0-9]*$`
	// +optional
	RequiredContent []string `json:"requiredContent,omitempty"`

	// Agreements is how many people must agree to a draft before it is
	// filed, the drafter not among them; one when not set.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=5
	// +kubebuilder:default=1
	// +optional
	Agreements int32 `json:"agreements,omitempty"`

	// OpenedBy is the decision that makes the stage required.
	// +required
	OpenedBy StageOpener `json:"openedBy"`
}

// StageAnchor is what a stage's deadline runs from.
// +kubebuilder:validation:XValidation:rule="(self.from == 'Filing') == has(self.stage)",message="stage is required when from is Filing, and only then",fieldPath=".stage"
type StageAnchor struct {
	// From is the event the clock runs from.
	// +required
	From ClockStart `json:"from"`

	// Stage is the earlier stage of the same regime whose filing starts the
	// clock, when from is Filing.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	Stage string `json:"stage,omitempty"`
}

// ClockStart is what the stage's clock runs from: awareness when no
// anchor is set.
func (s *RegimeStage) ClockStart() ClockStart {
	if s.Anchor == nil || s.Anchor.From == "" {
		return ClockFromAwareness
	}
	return s.Anchor.From
}

// AnchorStage is the earlier stage whose filing starts the clock, or "" when
// the clock does not run from a filing.
func (s *RegimeStage) AnchorStage() string {
	if s.ClockStart() != ClockFromFiling {
		return ""
	}
	return s.Anchor.Stage
}

// AgreementsOrDefault is how many people must agree: one when not set.
func (s *RegimeStage) AgreementsOrDefault() int {
	if s.Agreements < 1 {
		return 1
	}
	return int(s.Agreements)
}

// RegulatoryRegimeStatus is the observed state of a RegulatoryRegime.
type RegulatoryRegimeStatus struct {
	// ObservedGeneration is the generation of the spec last read.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// RegulatoryRegime is one law's or regulator's rules for telling people
// about an incident, stage by stage: the catalogue entry that policies
// name in spec.regimes. The project ships UK GDPR, PECR, NIS2, DORA and the
// UK Cyber Security and Resilience Bill (config/regimes).
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=regime;regimes,categories=incidentops
// +kubebuilder:printcolumn:name="Description",type=string,JSONPath=`.spec.description`
// +kubebuilder:printcolumn:name="Citation",type=string,JSONPath=`.spec.citation`
// +kubebuilder:printcolumn:name="Stages",type=integer,JSONPath=`.spec.stages.length()`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type RegulatoryRegime struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec RegulatoryRegimeSpec `json:"spec"`
	// +optional
	Status RegulatoryRegimeStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// RegulatoryRegimeList contains a list of RegulatoryRegime.
type RegulatoryRegimeList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RegulatoryRegime `json:"items"`
}

func init() {
	SchemeBuilder.Register(&RegulatoryRegime{}, &RegulatoryRegimeList{})
}

// Applies reports whether the regime can apply to an incident with this
// impact: every flag of spec.appliesTo that is set must equal the
// incident's.
func (in *RegulatoryRegimeSpec) Applies(impact Impact) bool {
	return in.AppliesTo.Matches(impact)
}
