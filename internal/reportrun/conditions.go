package reportrun

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/delivery"
)

// Condition is a condition's status, reason and message.
type Condition struct {
	Status  metav1.ConditionStatus
	Reason  string
	Message string
}

// condTimeLayout is how condition messages write times, in the report's zone.
const condTimeLayout = "2006-01-02 15:04 MST"

// Ready is what the report's runs add up to, in kstatus' words: Done
// (Ready=True) when every delivery owed is made, Working (Reconciling)
// while one is pending or being retried, GaveUp (Stalled) when the latest
// run's document or notice was given up on, which only a person can mend.
// next is the next scheduled run, zero while suspended.
func Ready(r *securityv1alpha1.IncidentReport, next time.Time, loc *time.Location) (Condition, delivery.Progress) {
	runs := r.Status.Runs
	for i := range runs {
		for _, d := range attempts(runs[i : i+1]) {
			if delivery.Settled(d) {
				continue
			}
			message := fmt.Sprintf("run %s: receiver %s is owed its delivery", runs[i].ID, d.Receiver)
			reason := securityv1alpha1.ReasonDelivering
			if d.State == securityv1alpha1.DeliveryFailed {
				reason = securityv1alpha1.ReasonNotificationFailed
				message = fmt.Sprintf("run %s: receiver %s failed %d times, last: %s", runs[i].ID, d.Receiver, d.Attempts, d.LastError)
				if d.NextAttemptAt != nil {
					message += "; next attempt at " + d.NextAttemptAt.In(loc).Format(condTimeLayout)
				}
			}
			return Condition{metav1.ConditionFalse, reason, message}, delivery.Working
		}
	}
	var last string
	if n := len(runs); n > 0 {
		run := &runs[n-1]
		delivered := 0
		for _, d := range attempts(runs[n-1:]) {
			if d.State == securityv1alpha1.DeliveryAbandoned {
				return Condition{metav1.ConditionFalse, securityv1alpha1.ReasonDeliveryAbandoned,
					fmt.Sprintf("run %s: gave up on receiver %s after %d attempts, last: %s", run.ID, d.Receiver, d.Attempts, d.LastError)}, delivery.GaveUp
			}
		}
		for i := range run.Deliveries {
			if run.Deliveries[i].State == securityv1alpha1.DeliveryDelivered {
				delivered++
			}
		}
		last = fmt.Sprintf("; run %s sent to %d receivers", run.ID, delivered)
	}
	if r.Spec.Suspend || next.IsZero() {
		return Condition{metav1.ConditionTrue, securityv1alpha1.ReasonSucceeded, "suspended: no new runs" + last}, delivery.Done
	}
	return Condition{metav1.ConditionTrue, securityv1alpha1.ReasonSucceeded, "next run at " + next.In(loc).Format(condTimeLayout) + last}, delivery.Done
}

// Reviewed says where the review of the latest run stands, when the
// report asks for reviews and has run: signed off, awaiting sign-off
// until its due time, or overdue. ok is false when there is nothing to say.
func Reviewed(r *securityv1alpha1.IncidentReport, loc *time.Location) (c Condition, ok bool) {
	runs := r.Status.Runs
	if r.Spec.ReviewWithin == nil || len(runs) == 0 {
		return c, false
	}
	run := &runs[len(runs)-1]
	switch {
	case run.SignedOffBy != nil:
		return Condition{metav1.ConditionTrue, securityv1alpha1.ReasonSignedOff, fmt.Sprintf("run %s signed off by %s", run.ID, run.SignedOffBy.Username)}, true
	case run.ReviewEscalatedAt != nil:
		return Condition{metav1.ConditionFalse, securityv1alpha1.ReasonReviewOverdue, fmt.Sprintf("run %s was due to be signed off by %s", run.ID, timeIn(run.ReviewDueAt, loc))}, true
	case run.ReviewDueAt != nil:
		return Condition{metav1.ConditionFalse, securityv1alpha1.ReasonAwaitingSignOff, fmt.Sprintf("run %s is to be signed off by %s", run.ID, timeIn(run.ReviewDueAt, loc))}, true
	}
	return c, false
}

func timeIn(t *metav1.Time, loc *time.Location) string {
	if t == nil {
		return "?"
	}
	return t.In(loc).Format(condTimeLayout)
}
