package audit

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// BrokenError is the first entry at which a trail does not verify.
type BrokenError struct {
	// Sequence of the broken entry: the entry that is wrong, or the first
	// that is missing.
	Sequence int64
	// Reason says what is wrong and how it may have come about.
	Reason string
}

func (e *BrokenError) Error() string {
	return fmt.Sprintf("entry %d: %s", e.Sequence, e.Reason)
}

func broken(sequence int64, format string, args ...any) *BrokenError {
	return &BrokenError{Sequence: sequence, Reason: fmt.Sprintf(format, args...)}
}

// VerifyOptions say what a trail is checked against besides itself.
type VerifyOptions struct {
	// Keys verify each entry's signature. Without them only the hashes and
	// their chain are checked: that finds an edit by someone who could not
	// recompute the chain, but not a chain recomputed from the edit on by
	// someone who can write the trail, since SHA-256 needs no key.
	Keys *KeyRing
	// Head is the incident's status.audit.head. The trail must end exactly
	// there, which is what finds a trail whose last entries were removed:
	// the entries alone cannot tell that anything followed them.
	Head *securityv1alpha1.AuditHead
	// Sealed says the subject is gone: its trail must end with its Deleted
	// entry, or it has lost its tail.
	Sealed bool
}

// Result is what a verification found intact.
type Result struct {
	// Entries is how many entries, from the first, verified.
	Entries int
	// Head is the head of the last entry that verified; nil when none did.
	Head *securityv1alpha1.AuditHead
	// SignaturesChecked is false when no Keys were given: the trail is then
	// only known to be consistent, not to have been written by the operator.
	SignaturesChecked bool
}

// link is where the next entry must attach.
type link struct {
	sequence     int64
	previousHash string
	// deleted is set after the Deleted entry, which nothing may follow.
	deleted bool
}

// check verifies one entry that should attach at next, and returns where
// the entry after it must attach. e is scratch space, to encode without
// allocating.
func (t trail) check(e *encoder, keys *KeyRing, next link, entry *securityv1alpha1.AuditEntry) (link, *BrokenError) {
	seq := next.sequence
	switch {
	case entry.Sequence != seq:
		return next, broken(seq, "missing, or out of order: entry %d stands in its place (entries removed, repeated or reordered?)", entry.Sequence)
	case next.deleted:
		return next, broken(seq, "follows the %s entry, which must be the last", securityv1alpha1.AuditDeleted)
	case entry.PreviousHash != next.previousHash && seq == 0:
		return next, broken(seq, "does not begin the trail of %s %s/%s (uid %s): the trail belongs to another subject, or its first entry was replaced", t.subject.Kind, t.namespace, t.subject.Name, t.subject.UID)
	case entry.PreviousHash != next.previousHash:
		return next, broken(seq, "its previous hash is not the hash of entry %d (an entry removed, inserted or edited before it?)", seq-1)
	}
	t.entryEncoding(e, entry)
	if sum := e.sum(); string(sum[:]) != entry.Hash {
		return next, broken(seq, "hash does not match its content (edited?)")
	}
	if keys != nil {
		if reason := t.checkSignature(e, keys, headOf(entry)); reason != "" {
			return next, broken(seq, "%s", reason)
		}
	}
	return link{sequence: seq + 1, previousHash: entry.Hash, deleted: entry.Action == securityv1alpha1.AuditDeleted}, nil
}

// Verify checks the trail of subject in namespace, entries in the order
// given (entry i must have sequence i). The error, a *BrokenError, names the
// first entry that breaks the trail; Result says how far it held.
func Verify(namespace string, subject securityv1alpha1.AuditSubject, entries []securityv1alpha1.AuditEntry, opts VerifyOptions) (Result, error) {
	t := trail{namespace: namespace, subject: subject}
	result := Result{SignaturesChecked: opts.Keys != nil}
	next := link{previousHash: t.genesis()}
	var e encoder
	var err *BrokenError
	for i := 0; i < len(entries) && err == nil; i++ {
		if next, err = t.check(&e, opts.Keys, next, &entries[i]); err == nil {
			result.Entries++
		}
	}
	if result.Entries > 0 {
		result.Head = headOf(&entries[result.Entries-1])
	}
	if err == nil && opts.Head != nil {
		err = t.checkEnd(&e, opts.Keys, *opts.Head, result.Head)
	}
	if err == nil && opts.Sealed && !next.deleted {
		err = broken(next.sequence, "missing: the %s is gone but its trail does not end with its %s entry (the tail was cut?)", subject.Kind, securityv1alpha1.AuditDeleted)
	}
	if err != nil {
		return result, err
	}
	// Not err: a nil *BrokenError is not a nil error.
	return result, nil
}

// headOf is the head entry makes.
func headOf(entry *securityv1alpha1.AuditEntry) *securityv1alpha1.AuditHead {
	return &securityv1alpha1.AuditHead{Sequence: entry.Sequence, Hash: entry.Hash, KeyID: entry.KeyID, Signature: entry.Signature}
}

// CheckHead verifies head's signature, as the operator should before it
// continues a trail after a head read from an incident's status.
func CheckHead(namespace string, subject securityv1alpha1.AuditSubject, head securityv1alpha1.AuditHead, keys *KeyRing) error {
	if keys == nil {
		return errors.New("no audit keys to check the head's signature with")
	}
	var e encoder
	if reason := (trail{namespace, subject}).checkSignature(&e, keys, &head); reason != "" {
		return broken(head.Sequence, "the incident's head: %s", reason)
	}
	return nil
}

// checkEnd holds the trail's last entry, last, to the head the incident
// keeps.
func (t trail) checkEnd(e *encoder, keys *KeyRing, head securityv1alpha1.AuditHead, last *securityv1alpha1.AuditHead) *BrokenError {
	if keys != nil {
		if reason := t.checkSignature(e, keys, &head); reason != "" {
			return broken(head.Sequence, "the incident's head: %s", reason)
		}
	}
	end := int64(-1)
	if last != nil {
		end = last.Sequence
	}
	switch {
	case end < head.Sequence:
		return broken(end+1, "missing: the trail ends before the incident's head, entry %d (its tail was cut?)", head.Sequence)
	case end > head.Sequence:
		return broken(head.Sequence+1, "follows the incident's head, entry %d (appended without updating the head?)", head.Sequence)
	case *last != head:
		return broken(end, "is not the entry the incident's head names (replaced?)")
	}
	return nil
}

// Entries puts the segments of one subject's trail in order and joins
// their entries. A segment missing, repeated or short of entries before the
// last is an error (a *BrokenError where it costs entries).
func Entries(trails []securityv1alpha1.AuditTrail) ([]securityv1alpha1.AuditEntry, error) {
	if len(trails) == 0 {
		return nil, nil
	}
	segments := make([]*securityv1alpha1.AuditTrail, len(trails))
	for i := range trails {
		segments[i] = &trails[i]
	}
	slices.SortStableFunc(segments, func(a, b *securityv1alpha1.AuditTrail) int {
		return cmp.Compare(a.Spec.Segment, b.Spec.Segment)
	})
	subject := segments[0].Spec.Subject
	var entries []securityv1alpha1.AuditEntry
	for i, s := range segments {
		first := int64(i) * securityv1alpha1.AuditTrailSegmentSize
		switch {
		case s.Spec.Segment < 0:
			return nil, fmt.Errorf("audit trail %s holds segment %d, but segments are numbered from 0", s.Name, s.Spec.Segment)
		case s.Spec.Subject != subject:
			return nil, fmt.Errorf("audit trail %s records %s %s (uid %s), but %s records %s %s (uid %s): give the segments of one trail",
				s.Name, s.Spec.Subject.Kind, s.Spec.Subject.Name, s.Spec.Subject.UID, segments[0].Name, subject.Kind, subject.Name, subject.UID)
		case s.Spec.Segment < int64(i):
			return nil, fmt.Errorf("audit trails %s and %s both hold segment %d", segments[i-1].Name, s.Name, s.Spec.Segment)
		case s.Spec.Segment > int64(i):
			return nil, broken(first, "missing: segment %d, which holds entries %d to %d, is not there (deleted?)", i, first, first+securityv1alpha1.AuditTrailSegmentSize-1)
		case i < len(segments)-1 && len(s.Spec.Entries) != securityv1alpha1.AuditTrailSegmentSize:
			return nil, broken(first+int64(len(s.Spec.Entries)), "missing: segment %d (%s) holds %d entries, but a later segment follows it", i, s.Name, len(s.Spec.Entries))
		}
		entries = append(entries, s.Spec.Entries...)
	}
	return entries, nil
}
