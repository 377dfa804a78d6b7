package receiver

import (
	"context"
	"errors"
	"fmt"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/notify"
)

// ReportReceiver sends a report's messages to one receiver: a run's
// document, or a notice about a run.
type ReportReceiver interface {
	SendReport(ctx context.Context, msg notify.ReportMessage) error
}

// ErrCannotCarryDocument is why a chat or paging receiver gets no report.
var ErrCannotCarryDocument = errors.New("only webhook and email receivers can carry a report's file: slack, teams and pagerDuty cannot")

// ForReport is the receiver for spec, a receiver of an IncidentReport in
// namespace: a webhook gets the document as JSON, e-mail as an attachment.
func ForReport(namespace string, spec *securityv1alpha1.Receiver, t *Transport) (ReportReceiver, error) {
	switch {
	case spec.Webhook != nil:
		return &webhook{spec: spec.Webhook, secrets: namespaced{t.Secrets, namespace}, t: t}, nil
	case spec.Email != nil:
		return &email{to: spec.Email.To, cc: spec.Email.Cc, t: t}, nil
	}
	return nil, fmt.Errorf("receiver %q: %w", spec.Name, ErrCannotCarryDocument)
}

func (w *webhook) SendReport(ctx context.Context, msg notify.ReportMessage) error {
	target, err := w.target(ctx)
	if err != nil {
		return err
	}
	return w.t.HTTP.SendReport(ctx, target, msg, w.t.Now())
}

func (e *email) SendReport(ctx context.Context, msg notify.ReportMessage) error {
	if e.t.Mailer == nil {
		return ErrNoMailServer
	}
	return e.t.Mailer.SendReport(ctx, notify.ReportMail{To: e.to, Cc: e.cc, Message: msg, Date: e.t.Now()})
}
