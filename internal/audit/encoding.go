// Package audit is the hash chain of an incident's audit trail and its
// verifier. It imports no client and reads no clock: the operator appends
// entries with Chain, the kubectl plugin and an external sink check them
// with Verify and Stream.
//
// Each entry's Hash is the SHA-256 of a canonical encoding that covers the
// entry's content, its subject and the previous entry's Hash, so that an
// entry cannot be edited, removed, inserted or moved to another incident
// without breaking the chain. Anyone can recompute hashes, so the hash alone
// proves integrity only against someone who cannot write the trail; each
// entry is therefore also signed with an HMAC key that only the operator
// reads, and the incident keeps the signed head, which is what catches a
// trail whose tail was cut.
package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Each structure is encoded under its own tag, so that the bytes of one can
// never be read as another, and so that a later format (v2) hashes apart.
const (
	entryTag   = "incident-operator/audit/v1/entry"
	genesisTag = "incident-operator/audit/v1/genesis"
	headTag    = "incident-operator/audit/v1/head"
)

// encoder writes a prefix-free encoding: integers are 8 bytes big-endian,
// strings and lists are preceded by their length, so that no two different
// values ("ab"+"c" and "a"+"bc") produce the same bytes.
type encoder struct {
	buf []byte
}

func (e *encoder) int(n int64) {
	e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(n))
}

func (e *encoder) bool(b bool) {
	if b {
		e.buf = append(e.buf, 1)
	} else {
		e.buf = append(e.buf, 0)
	}
}

func (e *encoder) string(s string) {
	e.int(int64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *encoder) strings(list []string) {
	e.int(int64(len(list)))
	for _, s := range list {
		e.string(s)
	}
}

// trail is where entries belong: every hash and signature covers it.
type trail struct {
	namespace string
	subject   securityv1alpha1.AuditSubject
}

func (t trail) begin(e *encoder, tag string) {
	e.buf = e.buf[:0]
	e.string(tag)
	e.string(t.namespace)
	e.string(t.subject.Kind)
	e.string(t.subject.Name)
	e.string(t.subject.UID)
}

// genesis is entry 0's PreviousHash. Because it covers the subject's UID, a
// trail copied to a later incident of the same name does not verify there.
func (t trail) genesis() string {
	var e encoder
	t.begin(&e, genesisTag)
	return e.hash()
}

// entryEncoding is what an entry's Hash is taken over: all of the entry
// except Hash, KeyID and Signature. The time counts in whole microseconds
// since the Unix epoch, which is what metav1.MicroTime keeps through JSON
// whatever the time's location.
func (t trail) entryEncoding(e *encoder, entry *securityv1alpha1.AuditEntry) {
	t.begin(e, entryTag)
	e.int(entry.Sequence)
	e.int(entry.Time.UnixMicro())
	e.bool(entry.Actor.Operator)
	e.string(entry.Actor.Username)
	e.strings(entry.Actor.Groups)
	e.string(string(entry.Action))
	var held [MaxDetails]string // sorted without allocating
	keys := held[:0]
	for k := range entry.Details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	e.int(int64(len(keys)))
	for _, k := range keys {
		e.string(k)
		e.string(entry.Details[k])
	}
	e.string(entry.PreviousHash)
}

// headEncoding is what a Signature is taken over. The head names its key,
// so that a signature cannot be passed off as one made with another key.
func (t trail) headEncoding(e *encoder, sequence int64, hash, keyID string) {
	t.begin(e, headTag)
	e.int(sequence)
	e.string(hash)
	e.string(keyID)
}

// Hash is the hex SHA-256 of the entry's canonical encoding, as it belongs
// in entry.Hash for the trail of subject in namespace.
func Hash(namespace string, subject securityv1alpha1.AuditSubject, entry securityv1alpha1.AuditEntry) string {
	var e encoder
	trail{namespace, subject}.entryEncoding(&e, &entry)
	return e.hash()
}

// Genesis is the PreviousHash of the first entry of subject's trail.
func Genesis(namespace string, subject securityv1alpha1.AuditSubject) string {
	return trail{namespace, subject}.genesis()
}

// sum is the hex SHA-256 of what was encoded, in an array, so that it can
// be compared without allocating.
func (e *encoder) sum() [sha256.Size * 2]byte {
	var h [sha256.Size * 2]byte
	sum := sha256.Sum256(e.buf)
	hex.Encode(h[:], sum[:])
	return h
}

func (e *encoder) hash() string {
	h := e.sum()
	return string(h[:])
}
