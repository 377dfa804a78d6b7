package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/notify"
)

// errNoMailServer is why an email receiver cannot be used.
var errNoMailServer = errors.New("e-mail needs an SMTP server, and the operator has none: start it with --smtp-address and --smtp-from")

// errDestinationNotAllowed is why a URL written in a policy is not sent to.
var errDestinationNotAllowed = errors.New("the policy's pagerDuty.url is not a destination the operator's administrator allows (--allowed-destination)")

// secretUse is one Secret key a receiver needs, and the field that names it.
type secretUse struct {
	field string // below the receiver, such as webhook.urlSecretRef
	ref   securityv1alpha1.SecretKeyReference
}

// receiverSecrets lists the Secret keys a receiver needs.
func receiverSecrets(r *securityv1alpha1.Receiver) []secretUse {
	switch {
	case r.Webhook != nil:
		uses := []secretUse{{"webhook.urlSecretRef", r.Webhook.URLSecretRef}}
		if r.Webhook.SigningSecretRef != nil {
			uses = append(uses, secretUse{"webhook.signingSecretRef", *r.Webhook.SigningSecretRef})
		}
		return uses
	case r.Slack != nil:
		return []secretUse{{"slack.urlSecretRef", r.Slack.URLSecretRef}}
	case r.Teams != nil:
		return []secretUse{{"teams.urlSecretRef", r.Teams.URLSecretRef}}
	case r.PagerDuty != nil:
		return []secretUse{{"pagerDuty.routingKeySecretRef", r.PagerDuty.RoutingKeySecretRef}}
	}
	return nil
}

// receiverRenderer parses the receiver's template, or the default one.
func receiverRenderer(r *securityv1alpha1.Receiver) (*notify.Renderer, error) {
	var t notify.Template
	if r.Template != nil {
		t = notify.Template{Title: r.Template.Title, Body: r.Template.Body}
	}
	return notify.NewRenderer(t)
}

// rendererCache keeps each receiver's parsed template for the policy
// generation it came from, so that a send does not parse it again.
type rendererCache struct {
	mu       sync.Mutex
	entries  map[rendererKey]rendererEntry
	fallback *notify.Renderer
}

type rendererKey struct {
	policy   types.NamespacedName
	receiver string
}

type rendererEntry struct {
	uid        types.UID
	generation int64
	renderer   *notify.Renderer
	err        error
}

func (c *rendererCache) get(policy *securityv1alpha1.EscalationPolicy, receiver *securityv1alpha1.Receiver) (*notify.Renderer, error) {
	key := rendererKey{policy: types.NamespacedName{Namespace: policy.Namespace, Name: policy.Name}, receiver: receiver.Name}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok && e.uid == policy.UID && e.generation == policy.Generation {
		return e.renderer, e.err
	}
	renderer, err := receiverRenderer(receiver)
	if c.entries == nil {
		c.entries = map[rendererKey]rendererEntry{}
	}
	c.entries[key] = rendererEntry{uid: policy.UID, generation: policy.Generation, renderer: renderer, err: err}
	return renderer, err
}

// defaultRenderer is the renderer of the default template.
func (c *rendererCache) defaultRenderer() (*notify.Renderer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fallback == nil {
		r, err := notify.NewRenderer(notify.Template{})
		if err != nil {
			return nil, err
		}
		c.fallback = r
	}
	return c.fallback, nil
}

// forget drops the entries of a policy that is gone.
func (c *rendererCache) forget(policy types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if k.policy == policy {
			delete(c.entries, k)
		}
	}
}

func timeoutOf(d *securityv1alpha1.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.Duration
}

// sendTo makes one delivery attempt through the receiver's channel.
func (r *IncidentReconciler) sendTo(ctx context.Context, policy *securityv1alpha1.EscalationPolicy, receiver *securityv1alpha1.Receiver, msg notify.Message) error {
	secret := func(ref securityv1alpha1.SecretKeyReference) (string, error) {
		return readSecretKey(ctx, r.SecretReader, policy.Namespace, ref)
	}
	switch {
	case receiver.Webhook != nil:
		url, err := secret(receiver.Webhook.URLSecretRef)
		if err != nil {
			return err
		}
		target := notify.WebhookTarget{URL: url, Timeout: timeoutOf(receiver.Webhook.Timeout)}
		if ref := receiver.Webhook.SigningSecretRef; ref != nil {
			key, err := secret(*ref)
			if err != nil {
				return err
			}
			target.SigningKey = []byte(key)
		}
		return r.HTTP.SendWebhook(ctx, target, msg, r.Clock.Now())

	case receiver.Slack != nil, receiver.Teams != nil:
		chat, build := receiver.Slack, notify.SlackMessage
		if receiver.Teams != nil {
			chat, build = receiver.Teams, notify.TeamsMessage
		}
		url, err := secret(chat.URLSecretRef)
		if err != nil {
			return err
		}
		renderer, err := r.Renderers.get(policy, receiver)
		if err != nil {
			return err
		}
		body, err := build(renderer, msg)
		if err != nil {
			return err
		}
		return r.HTTP.SendChat(ctx, notify.ChatTarget{URL: url, Timeout: timeoutOf(chat.Timeout)}, body)

	case receiver.PagerDuty != nil:
		if u := receiver.PagerDuty.URL; u != "" && (r.DestinationAllowed == nil || !r.DestinationAllowed(u)) {
			return errDestinationNotAllowed
		}
		key, err := secret(receiver.PagerDuty.RoutingKeySecretRef)
		if err != nil {
			return err
		}
		renderer, err := r.Renderers.get(policy, receiver)
		if err != nil {
			return err
		}
		event, err := notify.PagerDutyEvent(renderer, msg, key, notify.PagerDutyAction(msg))
		if err != nil {
			return err
		}
		target := notify.PagerDutyTarget{URL: receiver.PagerDuty.URL, RoutingKey: key, Timeout: timeoutOf(receiver.PagerDuty.Timeout)}
		return r.HTTP.SendPagerDuty(ctx, target, event)

	case receiver.Email != nil:
		if r.Mailer == nil {
			return errNoMailServer
		}
		renderer, err := r.Renderers.get(policy, receiver)
		if err != nil {
			return err
		}
		subject, text, err := renderer.Render(msg)
		if err != nil {
			return err
		}
		return r.Mailer.Send(ctx, notify.Mail{
			To: receiver.Email.To, Cc: receiver.Email.Cc,
			Subject: subject, Text: text, Message: msg, Date: r.Clock.Now(),
		})
	}
	return fmt.Errorf("receiver %q has no channel", receiver.Name)
}

// sendToPerson mails someone reached by role, with the default template.
func (r *IncidentReconciler) sendToPerson(ctx context.Context, address string, msg notify.Message) error {
	if r.Mailer == nil {
		return errNoMailServer
	}
	renderer, err := r.Renderers.defaultRenderer()
	if err != nil {
		return err
	}
	subject, text, err := renderer.Render(msg)
	if err != nil {
		return err
	}
	return r.Mailer.Send(ctx, notify.Mail{To: []string{address}, Subject: subject, Text: text, Message: msg, Date: r.Clock.Now()})
}
