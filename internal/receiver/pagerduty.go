package receiver

import (
	"context"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/notify"
)

// pagerDuty raises, acknowledges and resolves one alert per incident
// through the Events API v2.
type pagerDuty struct {
	spec     *securityv1alpha1.PagerDutyReceiver
	renderer *notify.Renderer
	secrets  namespaced
	t        *Transport
}

func (p *pagerDuty) Send(ctx context.Context, msg notify.Message) error {
	if msg.ReportMessage != nil {
		return ErrCannotCarryDocument
	}
	if u := p.spec.URL; u != "" && (p.t.DestinationAllowed == nil || !p.t.DestinationAllowed(u)) {
		return ErrDestinationNotAllowed
	}
	key, err := p.secrets.key(ctx, p.spec.RoutingKeySecretRef)
	if err != nil {
		return err
	}
	event, err := notify.PagerDutyEvent(p.renderer, msg, key, notify.PagerDutyAction(msg))
	if err != nil {
		return err
	}
	target := notify.PagerDutyTarget{URL: p.spec.URL, RoutingKey: key, Timeout: timeoutOf(p.spec.Timeout)}
	return p.t.HTTP.SendPagerDuty(ctx, target, event)
}
