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

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// KindPolicyTest is the kind of a case file.
const KindPolicyTest = "PolicyTest"

// The case file is a PolicyTest, read from a file as the cluster holds it.
type (
	File             = securityv1alpha1.PolicyTest
	Spec             = securityv1alpha1.PolicyTestSpec
	Case             = securityv1alpha1.PolicyTestCase
	IncidentTemplate = securityv1alpha1.IncidentTemplate
	Step             = securityv1alpha1.PolicyTestStep
	Expect           = securityv1alpha1.PolicyTestExpect
	Delivery         = securityv1alpha1.ExpectedDelivery
	SLA              = securityv1alpha1.ExpectedSLA
	Condition        = securityv1alpha1.ExpectedCondition
	Invariant        = securityv1alpha1.PolicyInvariant
	Target           = securityv1alpha1.InvariantTarget
)

// DefaultHorizon is how long a case runs when it does not say.
const DefaultHorizon = 14 * 24 * time.Hour

// checkCase says what in the case cannot be run, naming the field: what
// the CRD's rules refuse in the cluster, for a case read from a file.
func checkCase(c *Case, i int) error {
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
