package v1alpha1

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A Filing is the record of one stage of one regulatory regime for one
// incident: the decision whether it is required, the draft, each person's
// agreement, the filing with the recipient, the recipient's acknowledgement
// and the correspondence after it. The operator opens one for every stage
// of every regime that applies to an incident; people then record each step
// on it, one step per request, each stamped with the account that made it
// by the admission policies (config/admission/filing.yaml), which also
// refuse an agreement by the drafter, the same person agreeing twice, a
// filing before its agreements and any change to a step once made.

// FilingOutcome is what was decided about a stage.
// +kubebuilder:validation:Enum=Required;NotRequired
type FilingOutcome string

const (
	// FilingRequired is a stage that must be filed.
	FilingRequired FilingOutcome = "Required"
	// FilingNotRequired is a stage that need not be filed, with its reasons:
	// a breach unlikely to result in a risk (UK GDPR Art. 33(1)), or an
	// exemption from telling the data subjects (Art. 34(3)).
	FilingNotRequired FilingOutcome = "NotRequired"
)

// Exemption is why the people whose data it is need not be told (UK GDPR
// Art. 34(3)).
// +kubebuilder:validation:Enum=Unintelligible;RiskNoLongerLikely;DisproportionateEffort
type Exemption string

const (
	// ExemptionUnintelligible: the data was unintelligible to anyone not
	// authorised to see it, such as encrypted (Art. 34(3)(a)).
	ExemptionUnintelligible Exemption = "Unintelligible"
	// ExemptionRiskNoLongerLikely: measures taken since mean the high risk
	// is no longer likely to materialise (Art. 34(3)(b)).
	ExemptionRiskNoLongerLikely Exemption = "RiskNoLongerLikely"
	// ExemptionDisproportionateEffort: telling each person would take
	// disproportionate effort; a public communication is made instead, and
	// the rationale says where (Art. 34(3)(c)).
	ExemptionDisproportionateEffort Exemption = "DisproportionateEffort"
)

// FilingDecision is whether the stage must be filed, and why.
// +kubebuilder:validation:XValidation:rule="self.outcome == 'Required' || has(self.rationale)",message="a decision that a stage is not required must give its reasons in rationale (UK GDPR Art. 33(5))",fieldPath=".rationale"
// +kubebuilder:validation:XValidation:rule="!has(self.exemption) || self.outcome == 'NotRequired'",message="an exemption is a reason for not telling: it needs outcome NotRequired",fieldPath=".exemption"
type FilingDecision struct {
	// Outcome of the decision.
	// +required
	Outcome FilingOutcome `json:"outcome"`

	// Rationale is why, in the decider's words: required when the stage is
	// not required.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4000
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	// +optional
	Rationale string `json:"rationale,omitempty"`

	// Exemption the decision relies on, for a stage that tells the data
	// subjects.
	// +optional
	Exemption Exemption `json:"exemption,omitempty"`

	// At is when the decision was made, when it was made before it was
	// recorded; the operator takes the time it first saw the decision
	// otherwise. Deciding that a stage opened by classification (Major,
	// Significant) is required classifies the incident, and starts the
	// clocks that run from classification (DORA Art. 19(4)).
	// +kubebuilder:validation:XValidation:rule="self >= timestamp('2000-01-01T00:00:00Z')",message="must be in 2000 or later: an earlier time is a zero or epoch value, not when this happened"
	// +optional
	At *metav1.Time `json:"at,omitempty"`

	// DecidedBy is the account that made the decision, written by the API
	// server.
	// +optional
	DecidedBy *Attestation `json:"decidedBy,omitempty"`
}

// ContentValue is what one field of a filing says.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=4000
type ContentValue string

// FilingDraft is what the filing will say, field by field.
type FilingDraft struct {
	// Content of the filing, by field: the stage's spec.requiredContent
	// names the fields it must carry (nature, dataSubjectCategories,
	// dataSubjectCount, recordCategories, recordCount, contact,
	// consequences, measures for UK GDPR Art. 33(3)).
	// +kubebuilder:validation:MinProperties=1
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^[a-z][A-Za-z0-9]{0,62}$'))",message="content fields are named like nature or dataSubjectCount: a lower-case letter, then letters and digits, at most 63"
	// +required
	Content map[string]ContentValue `json:"content"`

	// DraftedBy is the account that drafted it, written by the API server.
	// +optional
	DraftedBy *Attestation `json:"draftedBy,omitempty"`
}

// FilingAgreement is one person's agreement to the draft, or to a decision
// that the stage is not required.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="an agreement cannot be changed once recorded"
type FilingAgreement struct {
	// Sequence numbers the agreements from 0, in the order they were made.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4
	// +required
	Sequence int32 `json:"sequence"`

	// Note from the person agreeing.
	// +kubebuilder:validation:MaxLength=2000
	// +optional
	Note string `json:"note,omitempty"`

	// By is the account that agreed, written by the API server.
	// +optional
	By *Attestation `json:"by,omitempty"`
}

// FilingSubmission is the filing as it was made with the recipient.
type FilingSubmission struct {
	// At is when it was filed.
	// +kubebuilder:validation:XValidation:rule="self >= timestamp('2000-01-01T00:00:00Z')",message="must be in 2000 or later: an earlier time is a zero or epoch value, not when this happened"
	// +required
	At metav1.Time `json:"at"`

	// Reference the filing was made under, such as the recipient's form
	// number.
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!self.matches(r'[\\x00-\\x1f\\x7f-\\x9f\\x{200e}\\x{200f}\\x{202a}-\\x{202e}\\x{2066}-\\x{2069}]')",message="must be one line of printable text: control characters (newline, tab, ESC) and bidirectional overrides are refused"
	// +optional
	Reference string `json:"reference,omitempty"`

	// DelayReason is why it was filed after the deadline (UK GDPR
	// Art. 33(1): "accompanied by reasons for the delay").
	// +kubebuilder:validation:MaxLength=2000
	// +optional
	DelayReason string `json:"delayReason,omitempty"`

	// By is the account that recorded the filing, written by the API
	// server.
	// +optional
	By *Attestation `json:"by,omitempty"`
}

// FilingAcknowledgement is the recipient's acknowledgement of the filing.
type FilingAcknowledgement struct {
	// At is when the recipient acknowledged it.
	// +kubebuilder:validation:XValidation:rule="self >= timestamp('2000-01-01T00:00:00Z')",message="must be in 2000 or later: an earlier time is a zero or epoch value, not when this happened"
	// +required
	At metav1.Time `json:"at"`

	// CaseNumber the recipient gave the filing.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!self.matches(r'[\\x00-\\x1f\\x7f-\\x9f\\x{200e}\\x{200f}\\x{202a}-\\x{202e}\\x{2066}-\\x{2069}]')",message="must be one line of printable text: control characters (newline, tab, ESC) and bidirectional overrides are refused"
	// +optional
	CaseNumber string `json:"caseNumber,omitempty"`

	// By is the account that recorded the acknowledgement, written by the
	// API server.
	// +optional
	By *Attestation `json:"by,omitempty"`
}

// CorrespondenceDirection is which way a letter went.
// +kubebuilder:validation:Enum=Received;Sent
type CorrespondenceDirection string

const (
	CorrespondenceReceived CorrespondenceDirection = "Received"
	CorrespondenceSent     CorrespondenceDirection = "Sent"
)

// Correspondence is one letter, e-mail or call with the recipient after the
// filing.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="a letter cannot be changed once recorded"
type Correspondence struct {
	// Sequence numbers the letters from 0, in the order they were recorded.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=63
	// +required
	Sequence int32 `json:"sequence"`

	// At is when it was sent or received.
	// +kubebuilder:validation:XValidation:rule="self >= timestamp('2000-01-01T00:00:00Z')",message="must be in 2000 or later: an earlier time is a zero or epoch value, not when this happened"
	// +required
	At metav1.Time `json:"at"`

	// Direction is whether it was received from the recipient or sent to it.
	// +required
	Direction CorrespondenceDirection `json:"direction"`

	// Summary of what it said.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4000
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	// +required
	Summary string `json:"summary"`

	// AttachmentSHA256 is the SHA-256 of an attachment, as 64 lower-case
	// hexadecimal digits, so that the document kept elsewhere can be shown
	// to be the one recorded.
	// +kubebuilder:validation:Pattern=`^[0-9a-f]{64}$`
	// +optional
	AttachmentSHA256 string `json:"attachmentSHA256,omitempty"`

	// By is the account that recorded it, written by the API server.
	// +optional
	By *Attestation `json:"by,omitempty"`
}

// FilingSpec is one stage of one regime for one incident, and every step
// recorded for it. The operator writes what the stage is; people write the
// steps.
// +kubebuilder:validation:XValidation:rule="has(self.requiredContent) == has(oldSelf.requiredContent)",message="requiredContent is what the stage asks: it cannot be changed",fieldPath=".requiredContent"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.decision) || (has(self.decision) && self.decision == oldSelf.decision)",message="a decision cannot be changed or removed once made",fieldPath=".decision"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.draft) || (has(self.draft) && self.draft == oldSelf.draft)",message="a draft cannot be changed or removed once made: what it lacks follows in a later stage",fieldPath=".draft"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.filed) || (has(self.filed) && self.filed == oldSelf.filed)",message="a filing cannot be changed or removed once recorded",fieldPath=".filed"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.acknowledgement) || (has(self.acknowledgement) && self.acknowledgement == oldSelf.acknowledgement)",message="an acknowledgement cannot be changed or removed once recorded",fieldPath=".acknowledgement"
// +kubebuilder:validation:XValidation:rule="self.?agreements.orValue([]).size() >= oldSelf.?agreements.orValue([]).size()",message="agreements are append-only: none can be removed",fieldPath=".agreements"
// +kubebuilder:validation:XValidation:rule="self.?correspondence.orValue([]).size() >= oldSelf.?correspondence.orValue([]).size()",message="correspondence is append-only: no letter can be removed",fieldPath=".correspondence"
// +kubebuilder:validation:XValidation:rule="!has(self.decision) || self.decision.outcome == 'Required' || (!has(self.draft) && !has(self.filed))",message="a stage decided not required has nothing to draft or file",fieldPath=".decision"
// +kubebuilder:validation:XValidation:rule="!has(self.filed) || has(self.draft)",message="a filing needs its draft first",fieldPath=".filed"
// +kubebuilder:validation:XValidation:rule="!has(self.acknowledgement) || has(self.filed)",message="an acknowledgement needs the filing first",fieldPath=".acknowledgement"
// +kubebuilder:validation:XValidation:rule="!has(self.correspondence) || has(self.filed)",message="correspondence follows the filing: record the filing first",fieldPath=".correspondence"
// +kubebuilder:validation:XValidation:rule="!has(self.decision) || !has(self.decision.exemption) || self.recipient == 'DataSubjects'",message="an exemption (UK GDPR Art. 34(3)) is a reason not to tell the data subjects: only a stage whose recipient is DataSubjects takes one; give the reasons in rationale",fieldPath=".decision.exemption"
type FilingSpec struct {
	// Incident is the name of the incident, in the Filing's namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="is what the stage is: it cannot be changed"
	Incident string `json:"incident"`

	// Regime is the name of the RegulatoryRegime.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="is what the stage is: it cannot be changed"
	Regime string `json:"regime"`

	// Stage is the name of the regime's stage.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="is what the stage is: it cannot be changed"
	Stage string `json:"stage"`

	// Citation of the provision the stage comes from.
	// +kubebuilder:validation:MaxLength=128
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="is what the stage is: it cannot be changed"
	Citation string `json:"citation"`

	// Recipient the filing goes to.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="is what the stage is: it cannot be changed"
	Recipient Recipient `json:"recipient"`

	// RequiredContent names the fields the draft must carry before it can
	// be filed.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=63
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="is what the stage is: it cannot be changed"
	RequiredContent []string `json:"requiredContent,omitempty"`

	// AgreementsRequired is how many people other than the drafter must
	// agree before the stage is filed, or before a decision that it is not
	// required stands.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=5
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="is what the stage is: it cannot be changed"
	AgreementsRequired int32 `json:"agreementsRequired"`

	// Decision is whether the stage must be filed. A draft stands for a
	// decision that it must.
	// +optional
	Decision *FilingDecision `json:"decision,omitempty"`

	// Draft is what the filing will say.
	// +optional
	Draft *FilingDraft `json:"draft,omitempty"`

	// Agreements to the draft, or to a decision that the stage is not
	// required, one per person, the drafter or decider never among them.
	// +listType=map
	// +listMapKey=sequence
	// +kubebuilder:validation:MaxItems=5
	// +kubebuilder:validation:XValidation:rule="self.all(a, a.sequence < self.size())",message="agreements are numbered from 0 without gaps"
	// +optional
	Agreements []FilingAgreement `json:"agreements,omitempty"`

	// Filed is the filing as it was made with the recipient.
	// +optional
	Filed *FilingSubmission `json:"filed,omitempty"`

	// Acknowledgement is the recipient's, with its case number.
	// +optional
	Acknowledgement *FilingAcknowledgement `json:"acknowledgement,omitempty"`

	// Correspondence with the recipient after the filing, in the order it
	// was recorded.
	// +listType=map
	// +listMapKey=sequence
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:XValidation:rule="self.all(c, c.sequence < self.size())",message="correspondence is numbered from 0 without gaps"
	// +optional
	Correspondence []Correspondence `json:"correspondence,omitempty"`
}

// Filing is one stage of one regulatory regime for one incident: the
// decision, draft, agreements, filing, acknowledgement and correspondence,
// each made by a named account.
//
// FilingStatus is what the operator found of the Filing.
type FilingStatus struct {
	// ObservedGeneration is the generation last checked.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Deadline is the stage's deadline as the incident's obligation has it,
	// copied by the operator; unset while the stage has none (no fixed
	// deadline, or a clock not started). A filing recorded after it must
	// give spec.filed.delayReason (UK GDPR Art. 33(1)): the API server
	// refuses it otherwise.
	// +optional
	Deadline *metav1.Time `json:"deadline,omitempty"`

	// Conditions: Ready, Stalled. Ready is False, naming the field, when
	// the Filing's incident, regime or stage cannot be found or it differs
	// from the stage, or a step's time is in the future or out of order.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=filing,categories=incidentops
// +kubebuilder:validation:XValidation:rule="!has(self.spec.filed) || has(self.spec.filed.delayReason) || !has(self.status) || !has(self.status.deadline) || self.spec.filed.at <= self.status.deadline || has(oldSelf.spec.filed)",message="spec.filed.delayReason is required: the filing is after the stage's deadline, status.deadline, and must give the reasons for the delay (UK GDPR Art. 33(1))",fieldPath=".spec.filed"
// +kubebuilder:printcolumn:name="Incident",type=string,JSONPath=`.spec.incident`
// +kubebuilder:printcolumn:name="Regime",type=string,JSONPath=`.spec.regime`
// +kubebuilder:printcolumn:name="Stage",type=string,JSONPath=`.spec.stage`
// +kubebuilder:printcolumn:name="Decision",type=string,JSONPath=`.spec.decision.outcome`
// +kubebuilder:printcolumn:name="Drafted-By",type=string,JSONPath=`.spec.draft.draftedBy.username`
// +kubebuilder:printcolumn:name="Filed",type=date,JSONPath=`.spec.filed.at`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Case",type=string,JSONPath=`.spec.acknowledgement.caseNumber`,priority=1
// +kubebuilder:printcolumn:name="Recipient",type=string,JSONPath=`.spec.recipient`,priority=1
// +kubebuilder:printcolumn:name="Citation",type=string,JSONPath=`.spec.citation`,priority=1
type Filing struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec FilingSpec `json:"spec"`
	// +optional
	Status FilingStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// FilingList contains a list of Filing.
type FilingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Filing `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Filing{}, &FilingList{})
}

// Author is who proposed what is agreed to: the drafter of the draft, else
// the one who decided the stage is not required; nil when there is nothing
// to agree to yet.
func (in *Filing) Author() *Attestation {
	switch {
	case in.Spec.Draft != nil:
		return in.Spec.Draft.DraftedBy
	case in.Spec.Decision != nil && in.Spec.Decision.Outcome == FilingNotRequired:
		return in.Spec.Decision.DecidedBy
	}
	return nil
}

// FilingName is the name of the Filing the operator opens for one stage of
// one regime of an incident: incident.regime.stage, or, when that is longer
// than a name may be, the incident's name cut short and a digest of the
// whole, so that every stage of every incident has its own.
func FilingName(incident, regime, stage string) string {
	name := incident + "." + regime + "." + stage
	if len(name) <= 253 {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	suffix := "." + hex.EncodeToString(sum[:8]) + "." + regime + "." + stage
	return strings.TrimRight(incident[:253-len(suffix)], ".-") + suffix
}

// Of reports whether the Filing belongs to the incident as it is now: the
// operator opens each Filing owned by its incident, and a Filing left by a
// deleted incident of the same name is that one's, never this one's.
func (in *Filing) Of(incident *Incident) bool {
	for _, ref := range in.OwnerReferences {
		if ref.UID == incident.UID {
			return true
		}
	}
	return false
}
