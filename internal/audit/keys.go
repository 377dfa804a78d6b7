package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"

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
// after the others (a date such as 2026-07-01 does) and removing the old one
// only once no trail that must still verify uses it.
type KeyRing struct {
	keys    map[string]Key
	signing Key
}

// NewKeyRing checks and holds keys.
func NewKeyRing(keys ...Key) (*KeyRing, error) {
	if len(keys) == 0 {
		return nil, errors.New("no audit signing keys: give at least one")
	}
	ring := &KeyRing{keys: make(map[string]Key, len(keys))}
	for _, k := range keys {
		switch {
		case k.ID == "" || len(k.ID) > maxKeyID:
			return nil, fmt.Errorf("audit key id %q must be 1 to %d characters long", k.ID, maxKeyID)
		case len(k.Secret) < MinKeySize:
			return nil, fmt.Errorf("audit key %q is %d bytes long; it must be at least %d (for example: head -c %d /dev/urandom)", k.ID, len(k.Secret), MinKeySize, MinKeySize)
		}
		if _, ok := ring.keys[k.ID]; ok {
			return nil, fmt.Errorf("audit key %q is given twice", k.ID)
		}
		// A copy, so that a Secret changed later does not change the ring.
		k.Secret = slices.Clone(k.Secret)
		ring.keys[k.ID] = k
		if k.ID > ring.signing.ID {
			ring.signing = k
		}
	}
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

// Signing is the key new entries are signed with.
func (r *KeyRing) Signing() Key { return r.signing }

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
	key, ok := keys.keys[head.KeyID]
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
	return fmt.Sprintf("audit key ring %v signing with %s", slices.Sorted(maps.Keys(r.keys)), r.signing.ID)
}

// GoString is String for %#v.
func (r KeyRing) GoString() string { return r.String() }
