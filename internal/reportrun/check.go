package reportrun

import (
	"errors"
	"fmt"
	"slices"
	"time"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/policycheck"
	"github.com/incidentops/incident-operator/internal/schedule"
)

// ReasonInvalidFormat: the report asks for a format its kind has not.
const ReasonInvalidFormat = "InvalidFormat"

// maxWindow bounds period and reviewWithin, as the schema does.
const maxWindow = 8760 * time.Hour

// Check finds everything in a report's spec that keeps it from running:
// what the schema refuses now but an object stored before it did may
// hold, and what only the operator knows (a schedule or time zone it
// cannot read, e-mail without an SMTP server). Every problem is reported
// at once, each naming its field. mailConfigured is true when the
// operator has an SMTP server.
func Check(report *securityv1alpha1.IncidentReport, mailConfigured bool) []policycheck.Problem {
	spec := &report.Spec
	var problems []policycheck.Problem
	add := func(field, reason, format string, args ...any) {
		problems = append(problems, policycheck.Problem{Field: field, Reason: reason, Message: fmt.Sprintf(format, args...)})
	}
	if _, err := schedule.Parse(spec.Schedule, spec.TimeZone); err != nil {
		fe := &schedule.FieldError{Field: "schedule", Message: err.Error()}
		errors.As(err, &fe)
		reason := securityv1alpha1.ReasonInvalidSchedule
		if fe.Field == "timeZone" {
			reason = securityv1alpha1.ReasonInvalidTimeZone
		}
		add("spec."+fe.Field, reason, "%s", fe.Message)
	}
	for _, d := range []struct {
		field string
		value *securityv1alpha1.Duration
	}{{"spec.period", spec.Period}, {"spec.reviewWithin", spec.ReviewWithin}} {
		switch {
		case d.value == nil:
		case d.value.Err() != nil:
			add(d.field, policycheck.ReasonInvalidDuration, "%v", d.value.Err())
		case d.value.Duration <= 0 || d.value.Duration > maxWindow:
			add(d.field, policycheck.ReasonInvalidDuration, "%s must be more than 0s and at most 8760h (a year)", d.value)
		}
	}
	if spec.Report == securityv1alpha1.ReportSummary && spec.Format == securityv1alpha1.ReportCSV {
		add("spec.format", ReasonInvalidFormat, "the summary is several tables: choose Markdown or XLSX")
	}
	names := make([]string, 0, len(spec.Receivers))
	for i := range spec.Receivers {
		r := &spec.Receivers[i]
		names = append(names, r.Name)
		field := fmt.Sprintf("spec.receivers[%d]", i)
		switch {
		case r.Webhook == nil && r.Email == nil:
			add(field, policycheck.ReasonInvalidReceiver, "receiver %q: only webhook and email can carry a report's file", r.Name)
		case r.Email != nil && !mailConfigured:
			add(field+".email", policycheck.ReasonChannelNotConfigured, "receiver %q: e-mail needs an SMTP server, and the operator has none (--smtp-address, --smtp-from)", r.Name)
		}
	}
	if !slices.ContainsFunc(names, func(n string) bool { return !slices.Contains(spec.ReviewEscalation, n) }) {
		add("spec.receivers", policycheck.ReasonInvalidReceiver, "no receiver gets the document: those named in reviewEscalation are only told of overdue reviews")
	}
	for i, name := range spec.ReviewEscalation {
		if !slices.Contains(names, name) {
			add(fmt.Sprintf("spec.reviewEscalation[%d]", i), policycheck.ReasonInvalidReceiver, "%q is not one of spec.receivers", name)
		}
	}
	if len(spec.ReviewEscalation) > 0 && spec.ReviewWithin == nil {
		add("spec.reviewEscalation", policycheck.ReasonInvalidReceiver, "needs spec.reviewWithin: it is who is told when a run is not signed off within it")
	}
	return problems
}
