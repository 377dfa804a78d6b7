package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PolicyTestCase is one incident, what people do with it and when, and
// what must happen: who is told, by which policy and when.
type PolicyTestCase struct {
	// Name says what the case shows, in a sentence.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	// +required
	Name string `json:"name"`

	// Namespace is where the incident is reported, for `kubectl incident
	// test`; in the cluster a case runs in the PolicyTest's namespace, and
	// this must be unset or the same.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// NamespaceLabels are the namespace's labels, which pick the cluster
	// policies; in the cluster, unset is the namespace's own labels.
	// +kubebuilder:validation:MaxProperties=32
	// +optional
	NamespaceLabels map[string]string `json:"namespaceLabels,omitempty"`

	// ReportedAt is when the incident is reported; every time the case
	// gives after it is counted from here through the policies' calendars.
	// +kubebuilder:validation:XValidation:rule="self >= timestamp('2000-01-01T00:00:00Z')",message="must be in 2000 or later: an earlier time is a zero or epoch value, not when this happened"
	// +required
	ReportedAt metav1.Time `json:"reportedAt"`

	// Incident is the incident as it would be applied: its name, labels
	// and spec. Its assets are the namespace's Assets.
	// +required
	Incident IncidentTemplate `json:"incident"`

	// Script is what people do, and when.
	// +kubebuilder:validation:MaxItems=20
	// +listType=atomic
	// +optional
	Script []PolicyTestStep `json:"script,omitempty"`

	// Horizon is how long after the report the case runs, at most 90
	// days; 14 days when unset. A run also ends once nothing is due.
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || (duration(self) >= duration('1m') && duration(self) <= duration('2160h'))",message="horizon must be at least 1m and at most 2160h (90 days)"
	// +optional
	Horizon *Duration `json:"horizon,omitempty"`

	// Expect is what must happen.
	// +optional
	Expect PolicyTestExpect `json:"expect,omitempty"`
}

// IncidentTemplate is an Incident's name, labels and spec.
type IncidentTemplate struct {
	// +optional
	Metadata IncidentTemplateMetadata `json:"metadata,omitempty"`
	// Spec is an Incident's spec. It is checked as the API server checks
	// an Incident that is reported, when the case runs: an incident the
	// cluster would refuse fails its case, naming the field.
	// +kubebuilder:validation:Type=object
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:pruning:PreserveUnknownFields
	// +required
	Spec IncidentSpec `json:"spec"`
}

// IncidentTemplateMetadata is what a case may set of an incident's
// metadata.
type IncidentTemplateMetadata struct {
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Name string `json:"name,omitempty"`
	// +kubebuilder:validation:MaxProperties=32
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
}

// PolicyTestStep is one thing a person does, After the report: exactly
// one of acknowledge and resolve.
// +kubebuilder:validation:XValidation:rule="has(self.acknowledge) != has(self.resolve)",message="give exactly one of acknowledge and resolve"
type PolicyTestStep struct {
	// After is how long after the report.
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || duration(self) <= duration('2160h')",message="after must be at most 2160h (90 days)"
	// +required
	After Duration `json:"after"`
	// Acknowledge records spec.acknowledgement.
	// +optional
	Acknowledge *Acknowledgement `json:"acknowledge,omitempty"`
	// Resolve records spec.resolution.
	// +optional
	Resolve *Resolution `json:"resolve,omitempty"`
}

// PolicyTestExpect is what a case requires. What is unset is not checked.
type PolicyTestExpect struct {
	// Policies are the policies that route the incident, in routing
	// order, exactly.
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=atomic
	// +optional
	Policies []string `json:"policies,omitempty"`
	// Notified are deliveries that must happen, each matched by the fields
	// it sets.
	// +kubebuilder:validation:MaxItems=100
	// +listType=atomic
	// +optional
	Notified []ExpectedDelivery `json:"notified,omitempty"`
	// NotNotified are deliveries that must not happen.
	// +kubebuilder:validation:MaxItems=100
	// +listType=atomic
	// +optional
	NotNotified []ExpectedDelivery `json:"notNotified,omitempty"`
	// SLA are the service-level deadlines, wall-clock.
	// +optional
	SLA *ExpectedSLA `json:"sla,omitempty"`
	// AuthorityDeadline is when the supervisory authority must be told.
	// +optional
	AuthorityDeadline *metav1.Time `json:"authorityDeadline,omitempty"`
	// Conditions are conditions the incident must hold at the end.
	// +kubebuilder:validation:MaxItems=20
	// +listType=atomic
	// +optional
	Conditions []ExpectedCondition `json:"conditions,omitempty"`
}

// ExpectedDelivery matches deliveries by the fields it sets.
// +kubebuilder:validation:XValidation:rule="!(has(self.at) && has(self.after))",message="give at or after, not both"
type ExpectedDelivery struct {
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Policy string `json:"policy,omitempty"`
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	Level *int32 `json:"level,omitempty"`
	// Receiver is a policy's receiver; Role someone reached by role.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Receiver string `json:"receiver,omitempty"`
	// +optional
	Role Role `json:"role,omitempty"`
	// Recipient is the address a role reached.
	// +kubebuilder:validation:MaxLength=254
	// +optional
	Recipient string `json:"recipient,omitempty"`
	// Notice is the notice a delivery tells: Escalated (a level reached
	// after the first, and the reporter told of it), Acknowledged,
	// Resolved, SLAAtRisk, Major; Alert is level 0's own alert. Unset
	// matches any.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Notice string `json:"notice,omitempty"`
	// At is the wall-clock time it must be sent; After the same counted
	// from the report.
	// +optional
	At *metav1.Time `json:"at,omitempty"`
	// +optional
	After *Duration `json:"after,omitempty"`
}

// ExpectedSLA are service-level deadlines.
type ExpectedSLA struct {
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Policy string `json:"policy,omitempty"`
	// +optional
	AcknowledgeBy *metav1.Time `json:"acknowledgeBy,omitempty"`
	// +optional
	ResolveBy *metav1.Time `json:"resolveBy,omitempty"`
}

// ExpectedCondition is a condition's type and status, and optionally its
// reason.
type ExpectedCondition struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=316
	// +required
	Type string `json:"type"`
	// +kubebuilder:validation:Enum=True;False;Unknown
	// +required
	Status metav1.ConditionStatus `json:"status"`
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Reason string `json:"reason,omitempty"`
}

// PolicyInvariant is a rule over every incident the policies can tell
// apart, not an example: "every personal-data breach reaches
// internal-audit at level 0".
// +kubebuilder:validation:XValidation:rule="has(self.told) != has(self.neverTold)",message="give exactly one of told and neverTold"
type PolicyInvariant struct {
	// Name says the rule, in a sentence.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	// +required
	Name string `json:"name"`
	// NamespaceLabels limits the rule to namespaces with these labels;
	// unset, it holds in every namespace the cluster policies tell apart.
	// +kubebuilder:validation:MaxProperties=32
	// +optional
	NamespaceLabels map[string]string `json:"namespaceLabels,omitempty"`
	// When are the incidents the rule is about, as a policy's spec.match
	// says; unset, every incident.
	// +optional
	When PolicyMatch `json:"when,omitempty"`
	// Told must be reached by every such incident.
	// +optional
	Told *InvariantTarget `json:"told,omitempty"`
	// NeverTold must never be reached by any such incident.
	// +optional
	NeverTold *InvariantTarget `json:"neverTold,omitempty"`
}

// InvariantTarget is someone a policy's escalation tells: a receiver or a
// role.
// +kubebuilder:validation:XValidation:rule="has(self.receiver) != has(self.role)",message="name exactly one of receiver and role"
type InvariantTarget struct {
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Receiver string `json:"receiver,omitempty"`
	// +optional
	Role Role `json:"role,omitempty"`
	// Policy limits the target to one policy's escalation.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Policy string `json:"policy,omitempty"`
	// Level limits the target to one level; unset, any level.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	Level *int32 `json:"level,omitempty"`
}

// PolicyTestSpec holds the cases and invariants the operator runs again
// whenever a policy, cluster policy, asset, department or the namespace
// they depend on changes.
// +kubebuilder:validation:XValidation:rule="has(self.cases) || has(self.invariants)",message="give at least one case or invariant"
type PolicyTestSpec struct {
	// Cases, each named once.
	// +kubebuilder:validation:MaxItems=100
	// +listType=map
	// +listMapKey=name
	// +optional
	Cases []PolicyTestCase `json:"cases,omitempty"`
	// Invariants, each named once.
	// +kubebuilder:validation:MaxItems=50
	// +listType=map
	// +listMapKey=name
	// +optional
	Invariants []PolicyInvariant `json:"invariants,omitempty"`
}

// PolicyTestResult is how one case or invariant came out.
type PolicyTestResult struct {
	// Name of the case or invariant.
	Name string `json:"name"`
	// Kind is Case or Invariant.
	Kind string `json:"kind"`
	// Passed is true when the case met every expectation, or the
	// invariant held.
	Passed bool `json:"passed"`
	// Differences say what did not happen as expected, or the
	// counterexample; the first few.
	// +listType=atomic
	// +optional
	Differences []string `json:"differences,omitempty"`
}

// PolicyTestStatus is the outcome of the last run.
type PolicyTestStatus struct {
	// ObservedGeneration is the generation last run.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Ready is True when every case passes and every
	// invariant holds, False naming the first that does not.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// LastRunAt is when the cases last ran.
	// +optional
	LastRunAt *metav1.Time `json:"lastRunAt,omitempty"`
	// Passed and Failed count the cases and invariants.
	// +optional
	Passed int32 `json:"passed"`
	// +optional
	Failed int32 `json:"failed"`
	// Results, one a case or invariant.
	// +listType=atomic
	// +optional
	Results []PolicyTestResult `json:"results,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ptest,categories=incidentops
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Passed",type=integer,JSONPath=`.status.passed`
// +kubebuilder:printcolumn:name="Failed",type=integer,JSONPath=`.status.failed`
// +kubebuilder:printcolumn:name="Last-Run",type=date,JSONPath=`.status.lastRunAt`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1

// PolicyTest holds cases and invariants about the policies of its
// namespace and the cluster policies that apply to it. The operator runs
// them, as `kubectl incident test` does offline, whenever what they
// depend on changes, and reports Ready=False naming the first that fails.
type PolicyTest struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec PolicyTestSpec `json:"spec"`
	// +optional
	Status PolicyTestStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// PolicyTestList contains a list of PolicyTest.
type PolicyTestList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PolicyTest `json:"items"`
}

func init() {
	SchemeBuilder.Register(&PolicyTest{}, &PolicyTestList{})
}
