// Package policytest runs policy tests: incidents run through the
// operator's own routing and lifecycle on a clock that jumps from one wake
// to the next, so that a week of escalation takes milliseconds and every
// run gives the same answer, and what happened compared with what a case
// expects. It reads no cluster: `kubectl incident test` hands it objects
// from files, and the stored incidents it replays.
package policytest

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// KindPolicyTest is the kind of a case file.
const KindPolicyTest = "PolicyTest"

// File is a case file: a PolicyTest with its cases.
type File struct {
	APIVersion string            `json:"apiVersion"`
	Kind       string            `json:"kind"`
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Spec       Spec              `json:"spec"`
}

// Spec is what a PolicyTest holds.
type Spec struct {
	Cases []Case `json:"cases,omitempty"`
	// Invariants are rules over every incident the policies can tell
	// apart.
	Invariants []Invariant `json:"invariants,omitempty"`
}

// Case is one incident, what people do with it and when, and what must
// happen.
type Case struct {
	// Name says what the case shows, in a sentence.
	Name string `json:"name"`
	// Namespace is where the incident is reported; "default" when unset.
	Namespace string `json:"namespace,omitempty"`
	// NamespaceLabels are the namespace's labels, which pick the cluster
	// policies.
	NamespaceLabels map[string]string `json:"namespaceLabels,omitempty"`
	// ReportedAt is when the incident is reported, RFC 3339; every time
	// the case gives after it is counted from here through the policies'
	// calendars.
	ReportedAt metav1.Time `json:"reportedAt"`
	// Incident is the incident as it would be applied: its labels and
	// spec. Its assets are the Assets of the policy files.
	Incident IncidentTemplate `json:"incident"`
	// Script is what people do, and when.
	Script []Step `json:"script,omitempty"`
	// Horizon is how long after the report the case runs; 14 days when
	// unset. The run also ends once nothing is due.
	Horizon *metav1.Duration `json:"horizon,omitempty"`
	// Expect is what must happen.
	Expect Expect `json:"expect"`
}

// IncidentTemplate is an Incident's labels and spec.
type IncidentTemplate struct {
	Metadata IncidentMetadata              `json:"metadata,omitempty"`
	Spec     securityv1alpha1.IncidentSpec `json:"spec"`
}

// IncidentMetadata is what a case may set of an incident's metadata.
type IncidentMetadata struct {
	Name   string            `json:"name,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
}

// Step is one thing a person does, After the report.
type Step struct {
	After metav1.Duration `json:"after"`
	// Acknowledge records spec.acknowledgement.
	Acknowledge *securityv1alpha1.Acknowledgement `json:"acknowledge,omitempty"`
	// Resolve records spec.resolution.
	Resolve *securityv1alpha1.Resolution `json:"resolve,omitempty"`
}

// Expect is what a case requires. Every part is optional: what is unset
// is not checked.
type Expect struct {
	// Policies are the policies that route the incident, in routing order,
	// exactly.
	Policies []string `json:"policies,omitempty"`
	// Notified are deliveries that must happen, each matched by the fields
	// it sets.
	Notified []Delivery `json:"notified,omitempty"`
	// NotNotified are deliveries that must not happen.
	NotNotified []Delivery `json:"notNotified,omitempty"`
	// SLA are the service-level deadlines, wall-clock.
	SLA *SLA `json:"sla,omitempty"`
	// AuthorityDeadline is when the supervisory authority must be told.
	AuthorityDeadline *metav1.Time `json:"authorityDeadline,omitempty"`
	// Conditions are conditions the incident must hold at the end.
	Conditions []Condition `json:"conditions,omitempty"`
}

// Delivery matches deliveries by the fields it sets.
type Delivery struct {
	Policy string `json:"policy,omitempty"`
	Level  *int32 `json:"level,omitempty"`
	// Receiver is a policy's receiver; Role someone reached by role.
	Receiver string                `json:"receiver,omitempty"`
	Role     securityv1alpha1.Role `json:"role,omitempty"`
	// Recipient is the address a role reached.
	Recipient string `json:"recipient,omitempty"`
	// Notice is the notice a delivery tells: Escalated (a level reached
	// after the first, and the reporter told of it), Acknowledged,
	// Resolved, SLAAtRisk, Major; Alert is level 0's own alert. Unset
	// matches any.
	Notice string `json:"notice,omitempty"`
	// At is the wall-clock time it must be sent; After the same counted
	// from the report.
	At    *metav1.Time     `json:"at,omitempty"`
	After *metav1.Duration `json:"after,omitempty"`
}

// SLA are service-level deadlines.
type SLA struct {
	Policy        string       `json:"policy,omitempty"`
	AcknowledgeBy *metav1.Time `json:"acknowledgeBy,omitempty"`
	ResolveBy     *metav1.Time `json:"resolveBy,omitempty"`
}

// Condition is a condition's type and status, and optionally its reason.
type Condition struct {
	Type   string                 `json:"type"`
	Status metav1.ConditionStatus `json:"status"`
	Reason string                 `json:"reason,omitempty"`
}

// DefaultHorizon is how long a case runs when it does not say.
const DefaultHorizon = 14 * 24 * time.Hour

// check says what in the case cannot be run, naming the field.
func (c *Case) check(i int) error {
	field := fmt.Sprintf("spec.cases[%d]", i)
	switch {
	case c.Name == "":
		return fmt.Errorf("%s.name: required: say what the case shows", field)
	case c.ReportedAt.IsZero():
		return fmt.Errorf("%s (%s).reportedAt: required: the time every other time is counted from", field, c.Name)
	}
	for j, s := range c.Script {
		if (s.Acknowledge == nil) == (s.Resolve == nil) {
			return fmt.Errorf("%s (%s).script[%d]: give exactly one of acknowledge and resolve", field, c.Name, j)
		}
		if s.After.Duration < 0 {
			return fmt.Errorf("%s (%s).script[%d].after: must not be negative", field, c.Name, j)
		}
	}
	for j, d := range c.Expect.Notified {
		if d.At != nil && d.After != nil {
			return fmt.Errorf("%s (%s).expect.notified[%d]: give at or after, not both", field, c.Name, j)
		}
	}
	return nil
}
