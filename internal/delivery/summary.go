package delivery

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Progress is what the records mean in kstatus' words.
type Progress int

const (
	// Done: everything owed is delivered (Ready=True).
	Done Progress = iota
	// Working: deliveries are pending or being retried (Reconciling=True).
	Working
	// GaveUp: nothing is left to try and some were abandoned; only a person
	// can fix the receiver (Stalled=True).
	GaveUp
)

// Summary is the Notified condition the records add up to.
type Summary struct {
	Status   metav1.ConditionStatus
	Reason   string
	Message  string
	Progress Progress
}

// Summarise adds up an incident's delivery records: delivered, one that is
// failing (named, with its last error), or one given up on once nothing is
// left to try.
func Summarise(records []securityv1alpha1.NotificationRecord) Summary {
	var delivered, abandonedCount int
	var failed, abandoned *securityv1alpha1.NotificationRecord
	for i := range records {
		rec := &records[i]
		switch rec.State {
		case securityv1alpha1.DeliveryDelivered:
			delivered++
		case securityv1alpha1.DeliveryAbandoned:
			abandonedCount++
			if abandoned == nil {
				abandoned = rec
			}
		case securityv1alpha1.DeliveryFailed:
			if failed == nil {
				failed = rec
			}
		}
	}
	total := len(records)
	switch {
	case delivered == total:
		return Summary{metav1.ConditionTrue, securityv1alpha1.ReasonDelivered,
			fmt.Sprintf("%d of %d notifications delivered", delivered, total), Done}
	case failed != nil:
		return Summary{metav1.ConditionFalse, securityv1alpha1.ReasonNotificationFailed,
			fmt.Sprintf("%d of %d notifications delivered; receiver %s of policy %s failed %d times, last: %s",
				delivered, total, failed.Receiver, failed.Policy, failed.Attempts, failed.LastError), Working}
	case abandoned != nil && delivered+abandonedCount == total:
		return Summary{metav1.ConditionFalse, securityv1alpha1.ReasonNotificationAbandoned,
			fmt.Sprintf("%d of %d notifications delivered; gave up on receiver %s of policy %s after %d attempts, last: %s",
				delivered, total, abandoned.Receiver, abandoned.Policy, abandoned.Attempts, abandoned.LastError), GaveUp}
	default:
		return Summary{metav1.ConditionFalse, securityv1alpha1.ReasonDelivering,
			fmt.Sprintf("%d of %d notifications delivered", delivered, total), Working}
	}
}
