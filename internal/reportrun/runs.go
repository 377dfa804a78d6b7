// Package reportrun is the ledger of an IncidentReport's runs: which run
// is owed, what each receiver is owed and under which key, which
// deliveries are due, when a failed one is tried again or given up, which
// sign-offs count, which reviews are overdue, and what it all adds up to
// in the report's conditions. It also makes a run's document from the
// incidents handed to it.
//
// It is pure: it sends nothing, reads no API and no clock. The report
// controller reads the cluster, asks it what to do, and writes what it
// says. Retries and abandonment are internal/delivery's, so a report's
// receivers are retried exactly as an incident's are.
package reportrun

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/delivery"
	"github.com/incidentops/incident-operator/internal/schedule"
)

// Key identifies the delivery of a report's run to a receiver: the same
// report, run and receiver always give the same key, so every retry, and
// every resend after a restart, carries it and receivers can drop
// duplicates.
func Key(reportUID, run, receiver string) string {
	sum := sha256.Sum256([]byte("IncidentReport\x00" + reportUID + "\x00" + run + "\x00" + receiver))
	return hex.EncodeToString(sum[:16])
}

// ReviewKey identifies the notice to receiver that run's review is overdue.
func ReviewKey(reportUID, run, receiver string) string {
	return Key(reportUID, run, receiver+"\x00review-overdue")
}

// FormatOf is the report's format, or its kind's default: XLSX for the
// control document, Markdown for the summary.
func FormatOf(spec *securityv1alpha1.IncidentReportSpec) securityv1alpha1.ReportFormat {
	switch {
	case spec.Format != "":
		return spec.Format
	case spec.Report == securityv1alpha1.ReportSummary:
		return securityv1alpha1.ReportMarkdown
	}
	return securityv1alpha1.ReportXLSX
}

// PeriodOf is the span each run covers.
func PeriodOf(spec *securityv1alpha1.IncidentReportSpec) time.Duration {
	if spec.Period != nil && spec.Period.Err() == nil && spec.Period.Duration > 0 {
		return spec.Period.Duration
	}
	d, _ := time.ParseDuration(securityv1alpha1.DefaultReportPeriod)
	return d
}

// NewRun is the run for the slot at, covering [from, at), owing its
// document to every receiver of the report but those that are only told
// of overdue reviews.
func NewRun(report *securityv1alpha1.IncidentReport, at, from time.Time) securityv1alpha1.ReportRun {
	id := schedule.RunID(at)
	run := securityv1alpha1.ReportRun{
		ID:     id,
		From:   metav1.NewTime(from),
		To:     metav1.NewTime(at),
		Format: FormatOf(&report.Spec),
	}
	for i := range report.Spec.Receivers {
		r := &report.Spec.Receivers[i]
		if slices.Contains(report.Spec.ReviewEscalation, r.Name) {
			continue
		}
		run.Deliveries = append(run.Deliveries, securityv1alpha1.ReportDelivery{DeliveryAttempt: securityv1alpha1.DeliveryAttempt{
			Receiver: r.Name,
			Channel:  delivery.Channel(r),
			Key:      Key(string(report.UID), id, r.Name),
			State:    securityv1alpha1.DeliveryPending,
		}})
	}
	if w := report.Spec.ReviewWithin; w != nil && w.Err() == nil && w.Duration > 0 {
		due := metav1.NewTime(at.Add(w.Duration))
		run.ReviewDueAt = &due
	}
	return run
}

// Append adds run as the newest and keeps the newest MaxReportRuns. A run
// is never added twice: the slot's run is already there after a restart.
func Append(runs []securityv1alpha1.ReportRun, run securityv1alpha1.ReportRun) []securityv1alpha1.ReportRun {
	if Find(runs, run.ID) != nil {
		return runs
	}
	runs = append(runs, run)
	if over := len(runs) - securityv1alpha1.MaxReportRuns; over > 0 {
		runs = runs[over:]
	}
	return runs
}

// Find is the run called id, or nil.
func Find(runs []securityv1alpha1.ReportRun, id string) *securityv1alpha1.ReportRun {
	for i := range runs {
		if runs[i].ID == id {
			return &runs[i]
		}
	}
	return nil
}

// Owed is one delivery of a run that is due now.
type Owed struct {
	Run *securityv1alpha1.ReportRun
	// Delivery is the run's document delivery or its review notice.
	Delivery *securityv1alpha1.ReportDelivery
	// Review is true for the notice that the run's review is overdue.
	Review bool
}

// Due lists the deliveries of every run that are pending, or failed and
// whose retry time has come, documents before notices.
func Due(runs []securityv1alpha1.ReportRun, now time.Time) []Owed {
	var owed []Owed
	for i := range runs {
		run := &runs[i]
		for j := range run.Deliveries {
			if delivery.AttemptDue(&run.Deliveries[j].DeliveryAttempt, now) {
				owed = append(owed, Owed{Run: run, Delivery: &run.Deliveries[j]})
			}
		}
		for j := range run.ReviewEscalations {
			if delivery.AttemptDue(&run.ReviewEscalations[j].DeliveryAttempt, now) {
				owed = append(owed, Owed{Run: run, Delivery: &run.ReviewEscalations[j], Review: true})
			}
		}
	}
	return owed
}

// NextRetry is the time until the earliest retry of any run that is not due
// yet, at least a second, or zero when none is waiting.
func NextRetry(runs []securityv1alpha1.ReportRun, now time.Time) time.Duration {
	return delivery.EarliestRetry(attempts(runs), now)
}

// Delivered records that the receiver accepted the delivery at at; sha256
// is the digest of the document it carried, empty for a notice.
func Delivered(d *securityv1alpha1.ReportDelivery, at time.Time, sha256 string) {
	delivery.Delivered(&d.DeliveryAttempt, at)
	d.SHA256 = sha256
}

// Failed records a failed attempt at now: retried after the backoff, or
// abandoned when the failure is permanent or the attempts (10, as for a
// policy that sets none) are used up. It reports whether it was abandoned.
func Failed(d *securityv1alpha1.ReportDelivery, f delivery.Failure, now time.Time, backoff delivery.Backoff) (abandoned bool) {
	return delivery.Failed(&d.DeliveryAttempt, securityv1alpha1.DefaultMaxAttempts, f, now, backoff)
}

// attempts is the attempt record of every delivery of every run, documents
// and notices.
func attempts(runs []securityv1alpha1.ReportRun) []*securityv1alpha1.DeliveryAttempt {
	var out []*securityv1alpha1.DeliveryAttempt
	for i := range runs {
		for j := range runs[i].Deliveries {
			out = append(out, &runs[i].Deliveries[j].DeliveryAttempt)
		}
		for j := range runs[i].ReviewEscalations {
			out = append(out, &runs[i].ReviewEscalations[j].DeliveryAttempt)
		}
	}
	return out
}

// Unsettled is true while any of the run's deliveries is still owed.
func Unsettled(run *securityv1alpha1.ReportRun) bool {
	for _, a := range attempts([]securityv1alpha1.ReportRun{*run}) {
		if !delivery.Settled(a) {
			return true
		}
	}
	return false
}
