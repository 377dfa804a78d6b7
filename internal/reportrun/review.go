package reportrun

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/delivery"
	"github.com/incidentops/incident-operator/internal/schedule"
)

// SignOffs is what the spec's sign-offs did to the runs.
type SignOffs struct {
	// New are the runs signed off for the first time.
	New []*securityv1alpha1.ReportRun
	// Untrusted are the sign-offs that count for nothing, each naming its
	// field and why: one for a run the report did not make, or one the
	// API server did not attest (its admission policies were not
	// installed when it was written).
	Untrusted []string
}

// ApplySignOffs records each sign-off of the spec on its run: who, as the
// API server attested, and when the operator first saw it. A sign-off for
// a run older than every run kept is history and is left alone.
func ApplySignOffs(r *securityv1alpha1.IncidentReport, now time.Time) SignOffs {
	var out SignOffs
	runs := r.Status.Runs
	for _, s := range r.Spec.SignOffs {
		field := fmt.Sprintf("spec.signOffs[run=%s]", s.Run)
		run := Find(runs, s.Run)
		switch {
		case run == nil && len(runs) > 0 && historic(s.Run, runs[0].To.Time):
		case run == nil:
			out.Untrusted = append(out.Untrusted, field+": names no run of this report; status.runs[].id lists the runs it made")
		case s.By == nil || s.By.Username == "":
			out.Untrusted = append(out.Untrusted, field+": was not attested by the API server (are the admission policies in config/admission installed?)")
		case run.SignedOffBy == nil:
			by := *s.By.DeepCopy()
			at := metav1.NewTime(now.Truncate(time.Second))
			run.SignedOffBy, run.SignedOffAt = &by, &at
			out.New = append(out.New, run)
		}
	}
	return out
}

// historic is true for a run ID older than the oldest run kept.
func historic(id string, oldest time.Time) bool {
	at, err := schedule.ParseRunID(id)
	return err == nil && at.Before(oldest)
}

// EscalateOverdueReviews marks each run not signed off by its review's due
// time, once, and owes each of the report's reviewEscalation receivers a
// notice of it. It returns the runs that became overdue now.
func EscalateOverdueReviews(r *securityv1alpha1.IncidentReport, now time.Time) []*securityv1alpha1.ReportRun {
	var overdue []*securityv1alpha1.ReportRun
	for i := range r.Status.Runs {
		run := &r.Status.Runs[i]
		if run.ReviewDueAt == nil || run.SignedOffBy != nil || run.ReviewEscalatedAt != nil || now.Before(run.ReviewDueAt.Time) {
			continue
		}
		at := metav1.NewTime(now.Truncate(time.Second))
		run.ReviewEscalatedAt = &at
		for _, name := range r.Spec.ReviewEscalation {
			channel := delivery.ChannelUnknown
			for j := range r.Spec.Receivers {
				if r.Spec.Receivers[j].Name == name {
					channel = delivery.Channel(&r.Spec.Receivers[j])
				}
			}
			run.ReviewEscalations = append(run.ReviewEscalations, securityv1alpha1.ReportDelivery{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{
				Receiver: name, Channel: channel, Key: ReviewKey(string(r.UID), run.ID, name), State: securityv1alpha1.DeliveryPending,
			}})
		}
		overdue = append(overdue, run)
	}
	return overdue
}

// NextReviewDue is the earliest review due time after now of a run that is
// neither signed off nor escalated yet, or zero.
func NextReviewDue(runs []securityv1alpha1.ReportRun, now time.Time) time.Time {
	var next time.Time
	for i := range runs {
		run := &runs[i]
		if run.ReviewDueAt == nil || run.SignedOffBy != nil || run.ReviewEscalatedAt != nil || !run.ReviewDueAt.After(now) {
			continue
		}
		if next.IsZero() || run.ReviewDueAt.Before(&metav1.Time{Time: next}) {
			next = run.ReviewDueAt.Time
		}
	}
	return next
}
