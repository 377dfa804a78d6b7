package receiver

import (
	"context"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/notify"
)

// chat posts to a Slack or Teams webhook; build makes the channel's body.
type chat struct {
	spec     *securityv1alpha1.ChatReceiver
	build    func(*notify.Renderer, notify.Message) ([]byte, error)
	renderer *notify.Renderer
	secrets  namespaced
	t        *Transport
}

func (c *chat) Send(ctx context.Context, msg notify.Message) error {
	if msg.ReportMessage != nil {
		return ErrCannotCarryDocument
	}
	url, err := c.secrets.key(ctx, c.spec.URLSecretRef)
	if err != nil {
		return err
	}
	body, err := c.build(c.renderer, msg)
	if err != nil {
		return err
	}
	return c.t.HTTP.SendChat(ctx, notify.ChatTarget{URL: url, Timeout: timeoutOf(c.spec.Timeout)}, body)
}
