package receiver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Secrets reads one key of a Secret that its owner labelled for the operator.
type Secrets interface {
	Key(ctx context.Context, namespace string, ref securityv1alpha1.SecretKeyReference) (string, error)
}

// namespaced reads the Secrets of one namespace.
type namespaced struct {
	secrets   Secrets
	namespace string
}

func (n namespaced) key(ctx context.Context, ref securityv1alpha1.SecretKeyReference) (string, error) {
	return n.secrets.Key(ctx, n.namespace, ref)
}

// SecretReader reads Secrets by direct GET through Reader, never by list or
// watch, and uses only those labelled NotificationSecretLabel=true.
type SecretReader struct {
	Reader client.Reader
}

// Key is the value of one key, trimmed of surrounding white space.
func (s SecretReader) Key(ctx context.Context, namespace string, ref securityv1alpha1.SecretKeyReference) (string, error) {
	unavailable := &UnavailableError{Namespace: namespace, Name: ref.Name, Key: ref.Key}
	// A name the API could not hold (stored before validation tightened)
	// would otherwise fail every GET as a transient error, for ever.
	if len(validation.IsDNS1123Subdomain(ref.Name)) > 0 {
		return "", unavailable
	}
	secret := &corev1.Secret{}
	if err := s.Reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return "", unavailable
		}
		return "", fmt.Errorf("reading Secret %s/%s: %w", namespace, ref.Name, err)
	}
	value, ok := secret.Data[ref.Key]
	if secret.Labels[securityv1alpha1.NotificationSecretLabel] != "true" || !ok || len(value) == 0 {
		return "", unavailable
	}
	return strings.TrimSpace(string(value)), nil
}

// UnavailableError says that a Secret key cannot be used, the same way
// whether the Secret is missing, lacks the label, or lacks the key: a
// policy author who may not read Secrets must not learn which Secrets and
// keys exist from the policy's status.
type UnavailableError struct {
	Namespace, Name, Key string
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("Secret %s/%s key %q is not available to the operator: the Secret must exist, be labelled %s=true, and hold the key",
		e.Namespace, e.Name, e.Key, securityv1alpha1.NotificationSecretLabel)
}

// IsUnavailable is true when err says a Secret key cannot be used.
func IsUnavailable(err error) bool {
	var u *UnavailableError
	return errors.As(err, &u)
}

// SecretUse is one Secret key a receiver needs, and the field that names it.
type SecretUse struct {
	// Field is below the receiver, such as webhook.urlSecretRef.
	Field string
	Ref   securityv1alpha1.SecretKeyReference
}

// SecretsOf lists the Secret keys a receiver needs.
func SecretsOf(r *securityv1alpha1.Receiver) []SecretUse {
	switch {
	case r.Webhook != nil:
		uses := []SecretUse{{"webhook.urlSecretRef", r.Webhook.URLSecretRef}}
		if r.Webhook.SigningSecretRef != nil {
			uses = append(uses, SecretUse{"webhook.signingSecretRef", *r.Webhook.SigningSecretRef})
		}
		return uses
	case r.Slack != nil:
		return []SecretUse{{"slack.urlSecretRef", r.Slack.URLSecretRef}}
	case r.Teams != nil:
		return []SecretUse{{"teams.urlSecretRef", r.Teams.URLSecretRef}}
	case r.PagerDuty != nil:
		return []SecretUse{{"pagerDuty.routingKeySecretRef", r.PagerDuty.RoutingKeySecretRef}}
	}
	return nil
}
