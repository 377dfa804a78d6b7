package controllers

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/audit"
	"github.com/incidentops/incident-operator/internal/record"
)

// +kubebuilder:rbac:groups=security.incidentops.io,resources=audittrails,verbs=get;list;create;patch;append
// +kubebuilder:rbac:groups=security.incidentops.io,resources=audittrails/status,verbs=patch

// AuditTrails appends incidents' audit entries to their AuditTrail
// objects, chained and signed. Entries are written before the status that
// caused them, so that nothing the status records is missing from the
// trail; the status then keeps the signed head, so that a trail cut short
// is found.
type AuditTrails struct {
	Client client.Client
	// Reader reads trails as stored, not as cached: the operator does not
	// keep trails in memory.
	Reader client.Reader
	Keys   *audit.KeyRing
	Clock  clock.Clock
	// Exporter, when set, sends every entry to the audit sink once it is
	// in the trail.
	Exporter *AuditExporter
}

// subjectOf is the trail subject of an incident.
func subjectOf(incident *securityv1alpha1.Incident) securityv1alpha1.AuditSubject {
	return securityv1alpha1.AuditSubject{Kind: "Incident", Name: incident.Name, UID: string(incident.UID)}
}

// Append chains, signs and stores entries after the incident's trail head,
// and returns the new head. When the head in status is behind the trail (a
// status write failed after an earlier append), it continues from the
// stored trail, leaving out the entries that append already recorded.
func (t *AuditTrails) Append(ctx context.Context, incident *securityv1alpha1.Incident, entries []record.Entry) (*securityv1alpha1.AuditHead, []securityv1alpha1.AuditEntry, error) {
	subject := subjectOf(incident)
	var head *securityv1alpha1.AuditHead
	if incident.Status.Audit != nil {
		head = incident.Status.Audit.Head
	}
	for attempt := 0; ; attempt++ {
		if len(entries) == 0 {
			return head, nil, nil
		}
		// Nothing is signed while the keys cannot be trusted (DecideKeys):
		// the status is not written either, and the incident waits.
		key, err := t.Keys.SigningKey()
		if err != nil {
			return nil, nil, fmt.Errorf("appending to the audit trail of incident %s: %w", incident.Name, err)
		}
		chain := audit.NewChain(incident.Namespace, subject, head)
		now := t.Clock.Now()
		built := make([]securityv1alpha1.AuditEntry, 0, len(entries))
		for _, e := range entries {
			built = append(built, chain.Append(key, now, e.Actor, e.Action, e.Details))
		}
		err = t.write(ctx, incident.Namespace, subject, built)
		if err == nil {
			return chain.Head(), built, nil
		}
		if attempt > 0 || !staleHead(err) {
			return nil, nil, fmt.Errorf("appending to the audit trail of incident %s: %w", incident.Name, err)
		}
		stored, err := t.tail(ctx, incident.Namespace, subject, head)
		if err != nil {
			return nil, nil, err
		}
		if len(stored) > 0 {
			last := stored[len(stored)-1]
			head = &securityv1alpha1.AuditHead{Sequence: last.Sequence, Hash: last.Hash, KeyID: last.KeyID, Signature: last.Signature}
			if err := audit.CheckHead(incident.Namespace, subject, *head, t.Keys); err != nil {
				return nil, nil, fmt.Errorf("the audit trail of incident %s ends in an entry the operator did not sign: %w", incident.Name, err)
			}
		}
		entries = notYetRecorded(entries, stored)
	}
}

// staleHead reports whether a write failed because the trail is not where
// the status said it ends.
func staleHead(err error) bool {
	return apierrors.IsAlreadyExists(err) || apierrors.IsInvalid(err) || apierrors.IsConflict(err) || apierrors.IsNotFound(err) || apierrors.IsBadRequest(err)
}

// write stores built entries, creating a segment's object with its first
// entry and otherwise appending with a JSON patch that first tests the
// previous entry's hash: two writers can never both append after it.
func (t *AuditTrails) write(ctx context.Context, namespace string, subject securityv1alpha1.AuditSubject, built []securityv1alpha1.AuditEntry) error {
	for len(built) > 0 {
		segment := built[0].Sequence / securityv1alpha1.AuditTrailSegmentSize
		n := 0
		for n < len(built) && built[n].Sequence/securityv1alpha1.AuditTrailSegmentSize == segment {
			n++
		}
		part := built[:n]
		built = built[n:]
		name := audit.ObjectName(subject, segment)
		index := part[0].Sequence % securityv1alpha1.AuditTrailSegmentSize
		if index == 0 {
			trail := &securityv1alpha1.AuditTrail{
				ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
				Spec:       securityv1alpha1.AuditTrailSpec{Subject: subject, Segment: segment, Entries: part},
			}
			if err := t.Client.Create(ctx, trail); err != nil {
				return err
			}
			continue
		}
		patch := []map[string]any{{"op": "test", "path": "/spec/entries/" + strconv.FormatInt(index-1, 10) + "/hash", "value": part[0].PreviousHash}}
		for _, e := range part {
			patch = append(patch, map[string]any{"op": "add", "path": "/spec/entries/-", "value": e})
		}
		data, err := json.Marshal(patch)
		if err != nil {
			return err
		}
		trail := &securityv1alpha1.AuditTrail{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
		if err := t.Client.Patch(ctx, trail, client.RawPatch(types.JSONPatchType, data)); err != nil {
			return err
		}
	}
	return nil
}

// tail reads the entries stored after head, from the API server.
func (t *AuditTrails) tail(ctx context.Context, namespace string, subject securityv1alpha1.AuditSubject, head *securityv1alpha1.AuditHead) ([]securityv1alpha1.AuditEntry, error) {
	next := int64(0)
	if head != nil {
		next = head.Sequence + 1
	}
	var stored []securityv1alpha1.AuditEntry
	for segment := next / securityv1alpha1.AuditTrailSegmentSize; ; segment++ {
		trail := &securityv1alpha1.AuditTrail{}
		err := t.Reader.Get(ctx, types.NamespacedName{Namespace: namespace, Name: audit.ObjectName(subject, segment)}, trail)
		if apierrors.IsNotFound(err) {
			return stored, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading audit trail %s: %w", audit.ObjectName(subject, segment), err)
		}
		entries := slices.Clone(trail.Spec.Entries)
		slices.SortFunc(entries, func(a, b securityv1alpha1.AuditEntry) int { return int(a.Sequence - b.Sequence) })
		for _, e := range entries {
			if e.Sequence >= next {
				stored = append(stored, e)
			}
		}
		if len(trail.Spec.Entries) < securityv1alpha1.AuditTrailSegmentSize {
			return stored, nil
		}
	}
}

// Read returns the incident's whole trail as stored.
func (t *AuditTrails) Read(ctx context.Context, namespace string, subject securityv1alpha1.AuditSubject) ([]securityv1alpha1.AuditEntry, error) {
	return t.tail(ctx, namespace, subject, nil)
}

// notYetRecorded drops from entries those an earlier append stored after
// the head the status knew: the same actions, by the same actors, with the
// same details as the chain stores them. Each stored entry accounts for one
// entry, wherever it comes in the batch: a change of the spec observed
// since comes first in the new batch, before the entries stored already.
func notYetRecorded(entries []record.Entry, stored []securityv1alpha1.AuditEntry) []record.Entry {
	used := make([]bool, len(stored))
	var left []record.Entry
	for _, e := range entries {
		recorded := false
		for j := range stored {
			if !used[j] && sameRecord(e, stored[j]) {
				used[j], recorded = true, true
				break
			}
		}
		if !recorded {
			left = append(left, e)
		}
	}
	return left
}

// sameRecord compares an entry not yet chained with a stored one, through
// a throwaway chain, so that details are compared as the chain cuts them.
func sameRecord(e record.Entry, s securityv1alpha1.AuditEntry) bool {
	built := audit.NewChain("", securityv1alpha1.AuditSubject{}, nil).Append(audit.Key{ID: s.KeyID}, s.Time.Time, e.Actor, e.Action, e.Details)
	return built.Action == s.Action && built.Actor.Username == s.Actor.Username && built.Actor.Operator == s.Actor.Operator &&
		maps.Equal(built.Details, s.Details)
}

// LoadAuditKeys reads the operator's audit signing keys from the Secret as
// the operator starts. It creates the Secret, with one new key, only on a
// first install, while no audit trail exists. A Secret missing later, or
// one that does not hold the keys that signed the trails, it never creates
// or replaces: the ring it returns then withholds signing, and the operator
// logs why and what to do and sets incidentops_audit_signing_key_missing,
// until AuditKeyWatch sees the Secret put right. Its errors are the API
// server's.
func LoadAuditKeys(ctx context.Context, c client.Client, ref types.NamespacedName) (*audit.KeyRing, error) {
	keys := &audit.KeyRing{}
	for created := false; ; {
		secret, err := readAuditKeySecret(ctx, c, ref)
		if err != nil {
			return nil, err
		}
		evidence, err := auditKeyEvidence(ctx, c, ref, secret)
		if err != nil {
			return nil, err
		}
		decision := audit.DecideKeys(evidence)
		if decision.Action != audit.CreateKey || created {
			applyAuditKeys(ctx, keys, ref, decision)
			return keys, nil
		}
		// Another replica may create it first: both then read back and use
		// the one stored.
		if err := createAuditKeySecret(ctx, c, ref); err != nil {
			return nil, err
		}
		created = true
	}
}

// createAuditKeySecret creates the Secret with one new key.
func createAuditKeySecret(ctx context.Context, c client.Client, ref types.NamespacedName) error {
	key, err := audit.NewKey(time.Now(), rand.Reader)
	if err != nil {
		return err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{key.ID: key.Secret},
	}
	err = c.Create(ctx, secret)
	switch {
	case err == nil:
		ctrl.LoggerFrom(ctx).Info("Created the audit signing key Secret, as no audit trail exists yet; back it up: trails can be verified only with its keys",
			"secret", ref, "key", key.ID)
	case !apierrors.IsAlreadyExists(err):
		return fmt.Errorf("creating the audit signing key Secret %s: %w", ref, err)
	}
	return nil
}

// readAuditKeySecret reads the Secret; nil when it does not exist.
func readAuditKeySecret(ctx context.Context, r client.Reader, ref types.NamespacedName) (*corev1.Secret, error) {
	secret := &corev1.Secret{}
	err := r.Get(ctx, ref, secret)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the audit signing key Secret %s: %w", ref, err)
	}
	return secret, nil
}

// auditKeyEvidence gathers what DecideKeys weighs besides the Secret: every
// incident's signed head, and whether any trail exists, with the first
// entry of the trail listed first. Trails of deleted incidents are not all
// read: that is kubectl incident audit verify's work.
func auditKeyEvidence(ctx context.Context, r client.Reader, ref types.NamespacedName, secret *corev1.Secret) (audit.KeyEvidence, error) {
	evidence := audit.KeyEvidence{Secret: ref.String(), Found: secret != nil}
	if secret != nil {
		evidence.Data = secret.Data
		evidence.Retired = audit.RetiredKeys(secret.Annotations)
	}
	var trails securityv1alpha1.AuditTrailList
	if err := r.List(ctx, &trails, client.Limit(1)); err != nil {
		return evidence, fmt.Errorf("listing audit trails: %w", err)
	}
	if len(trails.Items) > 0 {
		evidence.TrailsExist = true
		if trail := trails.Items[0]; len(trail.Spec.Entries) > 0 {
			first := slices.MinFunc(trail.Spec.Entries, func(a, b securityv1alpha1.AuditEntry) int { return cmp.Compare(a.Sequence, b.Sequence) })
			evidence.Signed = append(evidence.Signed, audit.SignedHead{
				Where: "audit trail " + trail.Namespace + "/" + trail.Name, Namespace: trail.Namespace, Subject: trail.Spec.Subject,
				Head: securityv1alpha1.AuditHead{Sequence: first.Sequence, Hash: first.Hash, KeyID: first.KeyID, Signature: first.Signature},
			})
		}
	}
	for next := ""; ; {
		var incidents securityv1alpha1.IncidentList
		if err := r.List(ctx, &incidents, client.Limit(250), client.Continue(next)); err != nil {
			return evidence, fmt.Errorf("listing incidents: %w", err)
		}
		for i := range incidents.Items {
			incident := &incidents.Items[i]
			if incident.Status.Audit != nil && incident.Status.Audit.Head != nil {
				evidence.Signed = append(evidence.Signed, audit.SignedHead{
					Where: "incident " + incident.Namespace + "/" + incident.Name, Namespace: incident.Namespace, Subject: subjectOf(incident),
					Head: *incident.Status.Audit.Head,
				})
			}
		}
		if next = incidents.Continue; next == "" {
			return evidence, nil
		}
	}
}

// applyAuditKeys makes keys what the decision says: the Secret's keys, or
// none signing, with the reason in the log and the metric.
func applyAuditKeys(ctx context.Context, keys *audit.KeyRing, ref types.NamespacedName, decision audit.KeyDecision) {
	log := ctrl.LoggerFrom(ctx)
	if decision.Action == audit.UseKeys {
		_, wasWithheld := keys.SigningKey()
		changed := !slices.Equal(keys.IDs(), decision.Keys.IDs())
		keys.Replace(decision.Keys)
		auditSigningKeyMissing.Set(0)
		if wasWithheld != nil || changed {
			log.Info("Signing audit entries", "secret", ref, "keys", decision.Keys.IDs(), "signingKey", decision.Keys.Signing().ID)
		}
		return
	}
	reason := decision.Reason
	if decision.Action == audit.CreateKey {
		reason = fmt.Sprintf("the audit signing key Secret %s is missing; no audit trail exists yet, so restarting the operator creates it with a new key", ref)
	}
	keys.Withhold(errors.New(reason))
	auditSigningKeyMissing.Set(1)
	log.Error(errors.New(reason), "Signing no audit entry, so recording no incident change, until the audit signing key Secret is put right", "secret", ref)
}

// auditKeyPollInterval is how often AuditKeyWatch reads the Secret.
const auditKeyPollInterval = 30 * time.Second

// AuditKeyWatch keeps a key ring as its Secret says, without a restart:
// signing stops when the Secret is deleted or changed so that it no longer
// verifies what was signed, and starts again once it is restored; keys
// added to rotate sign from then on. It never creates or replaces the
// Secret. Every replica runs it, so that a new leader signs with the
// current keys.
type AuditKeyWatch struct {
	// Reader reads the Secret, incidents and trails as stored: the operator
	// caches none of them for this.
	Reader client.Reader
	Secret types.NamespacedName
	Keys   *audit.KeyRing
	// Interval between reads of the Secret; 30 seconds when zero.
	Interval time.Duration

	// seen is the version of the Secret decided on last; "" when it was
	// missing. checked is false until the first decision.
	seen    string
	checked bool
}

// Start polls the Secret until ctx ends; a change is decided on again.
func (w *AuditKeyWatch) Start(ctx context.Context) error {
	ctx = ctrl.LoggerInto(ctx, ctrl.LoggerFrom(ctx).WithName("audit-keys"))
	ticker := time.NewTicker(cmp.Or(w.Interval, auditKeyPollInterval))
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		if err := w.check(ctx); err != nil && ctx.Err() == nil {
			ctrl.LoggerFrom(ctx).Error(err, "Checking the audit signing key Secret; trying again", "secret", w.Secret)
		}
	}
}

// NeedLeaderElection is false: every replica keeps its keys current.
func (w *AuditKeyWatch) NeedLeaderElection() bool { return false }

// check decides again when the Secret changed since the last decision.
func (w *AuditKeyWatch) check(ctx context.Context) error {
	secret, err := readAuditKeySecret(ctx, w.Reader, w.Secret)
	if err != nil {
		return err
	}
	version := ""
	if secret != nil {
		version = secret.ResourceVersion
	}
	if w.checked && version == w.seen {
		return nil
	}
	evidence, err := auditKeyEvidence(ctx, w.Reader, w.Secret, secret)
	if err != nil {
		return err
	}
	applyAuditKeys(ctx, w.Keys, w.Secret, audit.DecideKeys(evidence))
	w.seen, w.checked = version, true
	return nil
}

// errAuditNotRecorded marks a reconcile whose status was not written
// because its audit entries could not be.
var errAuditNotRecorded = errors.New("audit entries not recorded")
