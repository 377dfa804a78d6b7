package receiver

import (
	"context"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/notify"
)

// webhook posts the message as JSON, signed when the receiver has a key.
type webhook struct {
	spec    *securityv1alpha1.WebhookReceiver
	secrets namespaced
	t       *Transport
}

func (w *webhook) Send(ctx context.Context, msg notify.Message) error {
	url, err := w.secrets.key(ctx, w.spec.URLSecretRef)
	if err != nil {
		return err
	}
	target := notify.WebhookTarget{URL: url, Timeout: timeoutOf(w.spec.Timeout)}
	if ref := w.spec.SigningSecretRef; ref != nil {
		key, err := w.secrets.key(ctx, *ref)
		if err != nil {
			return err
		}
		target.SigningKey = []byte(key)
	}
	return w.t.HTTP.SendWebhook(ctx, target, msg, w.t.Now())
}
