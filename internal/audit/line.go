package audit

import (
	"encoding/json"
	"fmt"
	"sync"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Record is one line the operator streams to an external audit sink (a
// webhook or a SIEM): an entry with what it is about, so that each line can
// be verified on its own terms and the lines of one subject form the same
// chain as its trail.
type Record struct {
	Namespace string                        `json:"namespace"`
	Subject   securityv1alpha1.AuditSubject `json:"subject"`
	Entry     securityv1alpha1.AuditEntry   `json:"entry"`
}

// Line is the JSON of entry's Record, ending with a newline, so that a
// stream of lines is JSON Lines.
func Line(namespace string, subject securityv1alpha1.AuditSubject, entry securityv1alpha1.AuditEntry) ([]byte, error) {
	b, err := json.Marshal(Record{Namespace: namespace, Subject: subject, Entry: entry})
	if err != nil {
		return nil, fmt.Errorf("encoding audit entry %d of %s %s/%s: %w", entry.Sequence, subject.Kind, namespace, subject.Name, err)
	}
	return append(b, '\n'), nil
}

// Stream verifies the lines a sink receives, which interleave the trails of
// many subjects: each subject's lines must form its chain from entry 0, as
// Verify checks it. It is safe for concurrent use. A receiver that restarts
// replays the lines it stored before it accepts new ones.
type Stream struct {
	keys *KeyRing

	mu     sync.Mutex
	trails map[trail]*streamed
}

type streamed struct {
	next link
	last securityv1alpha1.AuditHead
}

// NewStream verifies signatures with keys; nil checks hashes only, with the
// limits VerifyOptions.Keys describes.
func NewStream(keys *KeyRing) *Stream {
	return &Stream{keys: keys, trails: map[trail]*streamed{}}
}

// Accept checks one line. The operator delivers at least once, so a line
// may come again: an entry at or below the last one accepted is a repeat,
// reported with repeat true and not chained again; it must still hash and
// be signed as it should, and the last entry again must be the same entry.
// An error that breaks the chain is a *BrokenError; the subject's chain
// then stays where it was.
func (s *Stream) Accept(line []byte) (record Record, repeat bool, err error) {
	if err := json.Unmarshal(line, &record); err != nil {
		return Record{}, false, fmt.Errorf("not an audit line: %w", err)
	}
	t := trail{namespace: record.Namespace, subject: record.Subject}
	entry := &record.Entry
	s.mu.Lock()
	defer s.mu.Unlock()
	state := s.trails[t]
	var e encoder
	if state == nil || entry.Sequence >= state.next.sequence {
		next := link{previousHash: t.genesis()}
		if state != nil {
			next = state.next
		}
		next, broke := t.check(&e, s.keys, next, entry)
		if broke != nil {
			return record, false, broke
		}
		s.trails[t] = &streamed{next: next, last: *headOf(entry)}
		return record, false, nil
	}
	// A repeat cannot be chained to the entry before it, which is not
	// kept, but it can be checked on its own.
	repeated := link{sequence: entry.Sequence, previousHash: entry.PreviousHash}
	if _, broke := t.check(&e, s.keys, repeated, entry); broke != nil {
		return record, true, broke
	}
	if entry.Sequence == state.last.Sequence && *headOf(entry) != state.last {
		return record, true, broken(entry.Sequence, "differs from the entry %d received before it (the trail forked?)", entry.Sequence)
	}
	return record, true, nil
}
