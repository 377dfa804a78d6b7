// Package receiver sends a notification to one receiver of a policy, or to
// a person reached by role, whatever the channel: it reads the Secrets the
// receiver names, renders its template and hands the result to the
// transport in internal/notify. Reconcilers build a Receiver and call Send;
// they never look at which channel it is.
package receiver

import (
	"context"
	"errors"
	"fmt"
	"time"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/notify"
)

// Receiver sends messages to one destination: about incidents, and, for a
// webhook or e-mail receiver of an IncidentReport, about a report's runs.
type Receiver interface {
	Send(ctx context.Context, msg notify.Message) error
}

// Transport is what receivers send through and read from.
type Transport struct {
	HTTP *notify.HTTP
	// Mailer sends e-mail; nil when the operator has no SMTP server.
	Mailer *notify.Mailer
	// Secrets reads the Secrets that receivers name.
	Secrets Secrets
	// DestinationAllowed says whether a URL written in a policy itself
	// (PagerDuty's url) may be sent to: policycheck.AllowDestinations
	// decides, for delivery and for the policy's Ready condition alike.
	DestinationAllowed func(url string) bool
	// Now is the operator's clock.
	Now func() time.Time
}

// ErrNoMailServer is why e-mail cannot be sent.
var ErrNoMailServer = errors.New("e-mail needs an SMTP server, and the operator has none: start it with --smtp-address and --smtp-from")

// ErrDestinationNotAllowed is why a URL written in a policy is not sent to.
var ErrDestinationNotAllowed = errors.New("the policy's pagerDuty.url is not a destination the operator's administrator allows (--allowed-destination); the policy's Ready condition says why")

// ErrCannotCarryDocument is why a chat or paging receiver gets no message
// about a report's run: the IncidentReport schema refuses such receivers,
// and this says so again should one reach a send.
var ErrCannotCarryDocument = errors.New("only webhook and email receivers can carry a report's file: slack, teams and pagerDuty cannot")

// New is the receiver for spec, a receiver of a policy or an IncidentReport
// in namespace, whose text renderer renders messages about incidents
// (webhooks send structured JSON and ignore it; a report's messages have a
// fixed text and need none).
func New(namespace string, spec *securityv1alpha1.Receiver, renderer *notify.Renderer, t *Transport) (Receiver, error) {
	secrets := namespaced{t.Secrets, namespace}
	switch {
	case spec.Webhook != nil:
		return &webhook{spec: spec.Webhook, secrets: secrets, t: t}, nil
	case spec.Slack != nil:
		return &chat{spec: spec.Slack, build: notify.SlackMessage, renderer: renderer, secrets: secrets, t: t}, nil
	case spec.Teams != nil:
		return &chat{spec: spec.Teams, build: notify.TeamsMessage, renderer: renderer, secrets: secrets, t: t}, nil
	case spec.PagerDuty != nil:
		return &pagerDuty{spec: spec.PagerDuty, renderer: renderer, secrets: secrets, t: t}, nil
	case spec.Email != nil:
		return &email{to: spec.Email.To, cc: spec.Email.Cc, renderer: renderer, t: t}, nil
	}
	return nil, fmt.Errorf("receiver %q has no channel", spec.Name)
}

// Person is the receiver for someone reached by role: e-mail to address.
func Person(address string, renderer *notify.Renderer, t *Transport) Receiver {
	return &email{to: []string{address}, renderer: renderer, t: t}
}

func timeoutOf(d *securityv1alpha1.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.Duration
}
