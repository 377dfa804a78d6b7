package controllers

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/translog"
)

// Keys of the audit log key's Secret and ConfigMap.
const (
	// LogSignerKey holds the Secret's note signer key (Ed25519), in the
	// text form golang.org/x/mod/sumdb/note reads: PRIVATE+KEY+name+...
	LogSignerKey = "signer"
	// LogVerifierKey holds the ConfigMap's public key, name+hash+key.
	LogVerifierKey = "verifier"
	// LogOriginKey holds the ConfigMap's origin prefix: a namespace's log
	// is named <prefix>/<namespace> in its checkpoints.
	LogOriginKey = "origin"
)

// LogKey signs the checkpoints of every namespace's audit log with one
// Ed25519 key. Only the operator reads its Secret; the public key is
// published in a ConfigMap that anyone authenticated may read. While the
// key cannot be trusted, Signer says why and nothing is written.
type LogKey struct {
	mu       sync.RWMutex
	signer   note.Signer
	verifier note.Verifier
	withheld error
}

// NewLogKey is a key ring holding signer; for tests and verifiers.
func NewLogKey(signerKey string) (*LogKey, error) {
	k := &LogKey{}
	if err := k.set(signerKey); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *LogKey) set(signerKey string) error {
	signer, err := note.NewSigner(signerKey)
	if err != nil {
		return fmt.Errorf("the audit log key is not a note signer key: %w", err)
	}
	verifier, err := note.NewVerifier(verifierKeyOf(signerKey))
	if err != nil {
		return fmt.Errorf("the audit log key's public half: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.signer, k.verifier, k.withheld = signer, verifier, nil
	return nil
}

// Signer is the key that signs checkpoints, or why none does.
func (k *LogKey) Signer() (note.Signer, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.withheld != nil {
		return nil, k.withheld
	}
	if k.signer == nil {
		return nil, errors.New("the audit log key is not loaded")
	}
	return k.signer, nil
}

// Verifier is the public key of the signer.
func (k *LogKey) Verifier() note.Verifier {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.verifier
}

// Withhold stops signing, for the reason given.
func (k *LogKey) Withhold(reason error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.withheld = fmt.Errorf("%w: %w", ErrLogSigningWithheld, reason)
}

// ErrLogSigningWithheld is the error of an append while the log key is
// missing or not the one that signed the log.
var ErrLogSigningWithheld = errors.New("audit log signing is withheld")

// verifierKeyOf is the public key of a signer key; "" when it has none.
func verifierKeyOf(signerKey string) string {
	vkey, err := translog.VerifierKey(signerKey)
	if err != nil {
		return ""
	}
	return vkey
}

// LogKeySetup names where the log key is kept and published.
type LogKeySetup struct {
	// Secret holds the signer key; ConfigMap publishes the public key.
	Secret, ConfigMap types.NamespacedName
	// Origin prefixes every namespace's log name.
	Origin string
}

// LoadLogKey reads the audit log key from its Secret as the operator
// starts, creating the Secret with a new key only on a first install,
// while no audit batch exists anywhere. A Secret missing later is never
// replaced: the key then withholds signing, so that nothing is written
// under a key nobody can verify against the published one. It publishes
// the public key in the ConfigMap. Its errors are the API server's.
func LoadLogKey(ctx context.Context, c client.Client, setup LogKeySetup) (*LogKey, error) {
	key := &LogKey{}
	secret := &corev1.Secret{}
	err := c.Get(ctx, setup.Secret, secret)
	switch {
	case apierrors.IsNotFound(err):
		var batches securityv1alpha1.AuditBatchList
		if err := c.List(ctx, &batches, client.Limit(1)); err != nil {
			return nil, fmt.Errorf("listing audit batches: %w", err)
		}
		if len(batches.Items) > 0 {
			key.Withhold(fmt.Errorf("the audit log key Secret %s is missing but audit batches exist (such as %s/%s): restore the Secret from its backup; a new key would sign checkpoints nobody can check against the published key", setup.Secret, batches.Items[0].Namespace, batches.Items[0].Name))
			auditSigningKeyMissing.Set(1)
			ctrl.LoggerFrom(ctx).Error(key.withheld, "Writing no audit log entry, so recording no incident change, until the audit log key Secret is restored", "secret", setup.Secret)
			return key, nil
		}
		if secret, err = createLogKeySecret(ctx, c, setup.Secret); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("reading the audit log key Secret %s: %w", setup.Secret, err)
	}
	if err := key.set(string(secret.Data[LogSignerKey])); err != nil {
		return nil, fmt.Errorf("the audit log key Secret %s, key %s: %w", setup.Secret, LogSignerKey, err)
	}
	if err := publishLogKey(ctx, c, setup, verifierKeyOf(string(secret.Data[LogSignerKey]))); err != nil {
		return nil, err
	}
	return key, nil
}

// logKeyName names the log key in signatures.
const logKeyName = "incident-operator-audit-log"

// createLogKeySecret creates the Secret with a new key, or reads the one
// another replica created first.
func createLogKeySecret(ctx context.Context, c client.Client, ref types.NamespacedName) (*corev1.Secret, error) {
	skey, _, err := note.GenerateKey(rand.Reader, logKeyName)
	if err != nil {
		return nil, err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{LogSignerKey: []byte(skey)},
	}
	err = c.Create(ctx, secret)
	switch {
	case err == nil:
		ctrl.LoggerFrom(ctx).Info("Created the audit log key Secret, as no audit log exists yet; back it up: a lost key cannot sign the logs on, and the logs verify only against its public key",
			"secret", ref)
		return secret, nil
	case apierrors.IsAlreadyExists(err):
		stored := &corev1.Secret{}
		if err := c.Get(ctx, ref, stored); err != nil {
			return nil, fmt.Errorf("reading the audit log key Secret %s: %w", ref, err)
		}
		return stored, nil
	default:
		return nil, fmt.Errorf("creating the audit log key Secret %s: %w", ref, err)
	}
}

// publishLogKey writes the public key and the origin prefix into the
// ConfigMap, creating it when missing.
func publishLogKey(ctx context.Context, c client.Client, setup LogKeySetup, verifier string) error {
	want := map[string]string{LogVerifierKey: verifier, LogOriginKey: setup.Origin}
	cm := &corev1.ConfigMap{}
	err := c.Get(ctx, setup.ConfigMap, cm)
	if apierrors.IsNotFound(err) {
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: setup.ConfigMap.Namespace, Name: setup.ConfigMap.Name}, Data: want}
		if err := c.Create(ctx, cm); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("publishing the audit log's public key in ConfigMap %s: %w", setup.ConfigMap, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading ConfigMap %s: %w", setup.ConfigMap, err)
	}
	if cm.Data[LogVerifierKey] == verifier && cm.Data[LogOriginKey] == setup.Origin {
		return nil
	}
	cm.Data = want
	if err := c.Update(ctx, cm); err != nil {
		return fmt.Errorf("publishing the audit log's public key in ConfigMap %s: %w", setup.ConfigMap, err)
	}
	return nil
}

// logKeyPollInterval is how often LogKeyWatch reads the Secret.
const logKeyPollInterval = 30 * time.Second

// LogKeyWatch keeps the log key as its Secret says, without a restart:
// signing stops when the Secret is deleted or no longer holds a key, and
// starts again once it is restored. It never creates or replaces the
// Secret. Every replica runs it, so that a new leader signs with the
// current key.
type LogKeyWatch struct {
	// Reader reads the Secret as stored.
	Reader client.Reader
	Setup  LogKeySetup
	Key    *LogKey
	// Interval between reads; 30 seconds when zero.
	Interval time.Duration

	seen string
}

// Start polls the Secret until ctx ends.
func (w *LogKeyWatch) Start(ctx context.Context) error {
	ctx = ctrl.LoggerInto(ctx, ctrl.LoggerFrom(ctx).WithName("audit-log-key"))
	ticker := time.NewTicker(cmp.Or(w.Interval, logKeyPollInterval))
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		if err := w.check(ctx); err != nil && ctx.Err() == nil {
			ctrl.LoggerFrom(ctx).Error(err, "Checking the audit log key Secret; trying again", "secret", w.Setup.Secret)
		}
	}
}

// NeedLeaderElection is false: every replica keeps its key current.
func (w *LogKeyWatch) NeedLeaderElection() bool { return false }

// check reads the Secret and, when it changed, signs with what it holds, or
// withholds signing while it is missing or holds no key.
func (w *LogKeyWatch) check(ctx context.Context) error {
	secret := &corev1.Secret{}
	err := w.Reader.Get(ctx, w.Setup.Secret, secret)
	version := secret.ResourceVersion
	if apierrors.IsNotFound(err) {
		version, err = "", nil
	}
	if err != nil {
		return fmt.Errorf("reading the audit log key Secret %s: %w", w.Setup.Secret, err)
	}
	if version == w.seen && w.seen != "" {
		return nil
	}
	log := ctrl.LoggerFrom(ctx)
	if version == "" {
		w.Key.Withhold(fmt.Errorf("the audit log key Secret %s is missing: restore it from its backup; a new key would sign checkpoints nobody can check against the published key", w.Setup.Secret))
		auditSigningKeyMissing.Set(1)
		log.Error(errors.New("the audit log key Secret is missing"), "Writing no audit log entry, so recording no incident change, until the audit log key Secret is restored", "secret", w.Setup.Secret)
		w.seen = ""
		return nil
	}
	if err := w.Key.set(string(secret.Data[LogSignerKey])); err != nil {
		w.Key.Withhold(fmt.Errorf("the audit log key Secret %s, key %s: %w", w.Setup.Secret, LogSignerKey, err))
		auditSigningKeyMissing.Set(1)
		log.Error(err, "Writing no audit log entry until the audit log key Secret holds the key", "secret", w.Setup.Secret)
		w.seen = version
		return nil
	}
	auditSigningKeyMissing.Set(0)
	if w.seen != version {
		log.Info("Signing the audit log's checkpoints", "secret", w.Setup.Secret)
	}
	w.seen = version
	return nil
}
