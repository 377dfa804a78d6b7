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
	target, err := w.target(ctx)
	if err != nil {
		return err
	}
	return w.t.HTTP.SendWebhook(ctx, target, msg, w.t.Now())
}

// target reads the URL and the signing key from their Secrets.
func (w *webhook) target(ctx context.Context) (notify.WebhookTarget, error) {
	url, err := w.secrets.key(ctx, w.spec.URLSecretRef)
	if err != nil {
		return notify.WebhookTarget{}, err
	}
	target := notify.WebhookTarget{URL: url, Timeout: timeoutOf(w.spec.Timeout)}
	if ref := w.spec.SigningSecretRef; ref != nil {
		key, err := w.secrets.key(ctx, *ref)
		if err != nil {
			return notify.WebhookTarget{}, err
		}
		target.SigningKey = []byte(key)
	}
	return target, nil
}
