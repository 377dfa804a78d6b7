package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// MinKeySize is the shortest secret a key may have: HMAC-SHA256 is as strong
// as its key up to the hash's 32 bytes.
const MinKeySize = 32

// maxKeyID is what AuditEntry.KeyID may hold.
const maxKeyID = 63

// Key is one signing key. Only the operator should read its Secret: whoever
// can, can forge entries that verify.
type Key struct {
	ID     string
	Secret []byte
}

// String names the key without its secret, so that a key printed in a log or
// an error shows no secret.
func (k Key) String() string { return "audit key " + k.ID }

// GoString is String for %#v.
func (k Key) GoString() string { return k.String() }

// KeyRing holds the keys a trail may be signed with. All of them verify; the
// one whose ID sorts last signs, so rotating is adding a key whose ID sorts
// after the others (NewKey's ids, which begin with a date, do) and removing
// the old one only once no trail that must still verify uses it.
//
// The operator's ring follows its Secret: Replace gives it the keys the
// Secret holds, and Withhold stops it signing while the Secret cannot be
// trusted (DecideKeys says when). A ring is safe to read from several
// goroutines while one changes it. The zero KeyRing holds no keys and
// withholds signing.
type KeyRing struct {
	// held is a *heldKeys, replaced whole and never changed, so that a
	// signer sees one consistent set.
	held atomic.Value
}

// heldKeys is what a ring holds at one time.
type heldKeys struct {
	keys    map[string]Key
	signing Key
	// withheld, when set, is why nothing may be signed.
	withheld error
}

// ErrSigningWithheld is the error of SigningKey while the ring withholds
// signing; the error it wraps says why and what to do.
var ErrSigningWithheld = errors.New("audit signing withheld")

// NewKeyRing checks and holds keys.
func NewKeyRing(keys ...Key) (*KeyRing, error) {
	if len(keys) == 0 {
		return nil, errors.New("no audit signing keys: give at least one")
	}
	held := &heldKeys{keys: make(map[string]Key, len(keys))}
	for _, k := range keys {
		switch {
		case k.ID == "" || len(k.ID) > maxKeyID:
			return nil, fmt.Errorf("audit key id %q must be 1 to %d characters long", k.ID, maxKeyID)
		case len(k.Secret) < MinKeySize:
			return nil, fmt.Errorf("audit key %q is %d bytes long; it must be at least %d (for example: head -c %d /dev/urandom)", k.ID, len(k.Secret), MinKeySize, MinKeySize)
		}
		if _, ok := held.keys[k.ID]; ok {
			return nil, fmt.Errorf("audit key %q is given twice", k.ID)
		}
		// A copy, so that a Secret changed later does not change the ring.
		k.Secret = slices.Clone(k.Secret)
		held.keys[k.ID] = k
		if k.ID > held.signing.ID {
			held.signing = k
		}
	}
	ring := &KeyRing{}
	ring.held.Store(held)
	return ring, nil
}

// KeyRingFromSecret reads a Secret's data: each key of the data is a key id,
// its value that key's secret.
func KeyRingFromSecret(data map[string][]byte) (*KeyRing, error) {
	keys := make([]Key, 0, len(data))
	for _, id := range slices.Sorted(maps.Keys(data)) {
		keys = append(keys, Key{ID: id, Secret: data[id]})
	}
	return NewKeyRing(keys...)
}

// NewKey makes a key with a new random secret, read from random (crypto/rand
// in the operator). Its id is the day it was made and 8 random hex digits,
// such as key-2026-07-01-9f3a07c2: ids made on a later day sort later, so a
// new key signs, and keys made apart do not share an id (but for a chance
// in 2^32 on the same day), so a trail is never checked against another
// key of the name that signed it.
func NewKey(day time.Time, random io.Reader) (Key, error) {
	buf := make([]byte, 4+MinKeySize)
	if _, err := io.ReadFull(random, buf); err != nil {
		return Key{}, fmt.Errorf("making an audit signing key: %w", err)
	}
	return Key{ID: "key-" + day.UTC().Format(time.DateOnly) + "-" + hex.EncodeToString(buf[:4]), Secret: buf[4:]}, nil
}

// load is what the ring holds now.
func (r *KeyRing) load() *heldKeys {
	if held, ok := r.held.Load().(*heldKeys); ok {
		return held
	}
	return &heldKeys{withheld: errors.New("the key ring holds no keys")}
}

// Signing is the key new entries are signed with, whether or not signing is
// withheld; the operator signs with SigningKey, which says when it is.
func (r *KeyRing) Signing() Key { return r.load().signing }

// SigningKey is the key new entries are signed with, or an error wrapping
// ErrSigningWithheld that says why nothing may be signed now.
func (r *KeyRing) SigningKey() (Key, error) {
	held := r.load()
	if held.withheld != nil {
		return Key{}, fmt.Errorf("%w: %w", ErrSigningWithheld, held.withheld)
	}
	return held.signing, nil
}

// Replace makes the ring hold what keys holds, and sign again unless keys
// withholds signing.
func (r *KeyRing) Replace(keys *KeyRing) { r.held.Store(keys.load()) }

// Withhold stops the ring signing, for reason, until Replace; it keeps its
// keys, which still verify.
func (r *KeyRing) Withhold(reason error) {
	held := *r.load()
	held.withheld = reason
	r.held.Store(&held)
}

// IDs are the ids of the keys the ring holds, sorted.
func (r *KeyRing) IDs() []string { return slices.Sorted(maps.Keys(r.load().keys)) }

// key is the key with the id, if the ring holds it.
func (r *KeyRing) key(id string) (Key, bool) {
	k, ok := r.load().keys[id]
	return k, ok
}

// sign is the hex HMAC-SHA256 of a head; e is scratch space.
func (t trail) sign(e *encoder, key Key, sequence int64, hash string) [sha256.Size * 2]byte {
	t.headEncoding(e, sequence, hash, key.ID)
	mac := hmac.New(sha256.New, key.Secret)
	mac.Write(e.buf)
	var sum [sha256.Size]byte
	var h [sha256.Size * 2]byte
	hex.Encode(h[:], mac.Sum(sum[:0]))
	return h
}

// checkSignature says why head's signature does not verify with the ring,
// or "" when it does; e is scratch space.
func (t trail) checkSignature(e *encoder, keys *KeyRing, head *securityv1alpha1.AuditHead) string {
	key, ok := keys.key(head.KeyID)
	if !ok {
		return fmt.Sprintf("signed with key %q, which the key ring does not hold (forged, or the key was removed while trails still use it)", head.KeyID)
	}
	if want := t.sign(e, key, head.Sequence, head.Hash); !hmac.Equal(want[:], []byte(head.Signature)) {
		return fmt.Sprintf("signature does not verify with key %q (forged, or the chain was recomputed by someone without the key)", head.KeyID)
	}
	return ""
}

// String names the ring's keys without their secrets, which fmt would print
// from the unexported fields.
func (r KeyRing) String() string {
	held := r.load()
	if held.withheld != nil {
		return fmt.Sprintf("audit key ring %v withholding signing", slices.Sorted(maps.Keys(held.keys)))
	}
	return fmt.Sprintf("audit key ring %v signing with %s", slices.Sorted(maps.Keys(held.keys)), held.signing.ID)
}

// GoString is String for %#v.
func (r KeyRing) GoString() string { return r.String() }
