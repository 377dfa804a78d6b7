// Package translog is the pure core of the operator's transparency log: one
// append-only log per namespace that numbers every audit entry of every
// incident, hashed as a Merkle tree the way Certificate Transparency and
// Go's checksum database hash theirs (RFC 6962, through
// golang.org/x/mod/sumdb/tlog), with checkpoints signed in the C2SP
// signed-note format with Ed25519 (golang.org/x/mod/sumdb/note).
//
// Entries are written in batches (group commit): each Batch is one object,
// created once and named by its first index, holding its entries as JSON
// Lines, the previous batch's hash, the root after it and the checkpoint
// that covers it. Log builds the next batch; Verify checks a sequence of
// batches as an auditor reads them from an archive, with only the public
// key; CheckInclusion and CheckConsistency check single proofs.
//
// The package imports no client and reads no clock.
package translog

import (
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Log is a writer's view of the log: its size, the hash of its last batch,
// and the stored hashes that the next batch and every proof read.
type Log struct {
	origin string
	hashes HashStore
	size   int64
	last   tlog.Hash

	// next is the batch Next built last, with its stored hashes, so that
	// appending it does not hash its entries again.
	next *prepared
}

type prepared struct {
	hash   tlog.Hash
	hashes []tlog.Hash
}

// NewLog is an empty log named origin (the checkpoints' first line) whose
// stored hashes go to hashes, which must be empty.
func NewLog(origin string, hashes HashStore) *Log {
	return &Log{origin: origin, hashes: hashes}
}

// Origin names the log.
func (l *Log) Origin() string { return l.origin }

// Size is the number of entries in the log.
func (l *Log) Size() int64 { return l.size }

// Root is the Merkle root of the log.
func (l *Log) Root() (tlog.Hash, error) { return tlog.TreeHash(l.size, l.hashes) }

// Next builds the batch that appends entries to the log, giving each entry
// its index, and signs its checkpoint. It does not change the log: the
// caller creates the batch's object and, once that succeeded, calls Append.
// If the create fails because the name exists, another writer appended
// first, and the caller rereads the log.
func (l *Log) Next(entries []Entry, signer note.Signer) (Batch, error) {
	if len(entries) == 0 {
		return Batch{}, errors.New("a batch needs at least one entry")
	}
	lines := make([][]byte, len(entries))
	var length int
	for i, e := range entries {
		e.Index = l.size + int64(i)
		line, err := e.Line()
		if err != nil {
			return Batch{}, err
		}
		lines[i] = line
		length += len(line) + 1
	}
	payload := make([]byte, 0, length)
	for _, line := range lines {
		payload = append(append(payload, line...), '\n')
	}
	hashes, root, err := grow(l.hashes, l.size, lines)
	if err != nil {
		return Batch{}, err
	}
	size := l.size + int64(len(entries))
	checkpoint, err := SignCheckpoint(Checkpoint{Origin: l.origin, Size: size, Root: root}, signer)
	if err != nil {
		return Batch{}, err
	}
	b := Batch{First: l.size, Payload: payload, Previous: l.last, Root: root, Checkpoint: checkpoint}
	l.next = &prepared{hash: b.Hash(), hashes: hashes}
	return b, nil
}

// Append adds a batch that was written: one Next built, or one read back
// when a writer starts again. It must continue the log: begin at its size,
// link to its last batch, and record the root its entries give.
func (l *Log) Append(b Batch) error {
	if b.First != l.size {
		return fmt.Errorf("batch %s begins at %d; the log holds %d entries", b.Name(), b.First, l.size)
	}
	if b.Previous != l.last {
		return fmt.Errorf("batch %s does not link to the log's last batch", b.Name())
	}
	hash := b.Hash()
	var hashes []tlog.Hash
	if l.next != nil && l.next.hash == hash {
		hashes = l.next.hashes
	} else {
		lines, err := b.Lines()
		if err != nil {
			return fmt.Errorf("batch %s: %w", b.Name(), err)
		}
		var root tlog.Hash
		if hashes, root, err = grow(l.hashes, l.size, lines); err != nil {
			return err
		}
		if root != b.Root {
			return fmt.Errorf("batch %s records a root its entries do not give", b.Name())
		}
	}
	if err := l.hashes.AppendHashes(tlog.StoredHashCount(l.size), hashes); err != nil {
		return err
	}
	l.size = b.End()
	l.last = hash
	l.next = nil
	return nil
}

// ProveInclusion proves that the entry at index is in the log at size.
func (l *Log) ProveInclusion(index, size int64) (tlog.RecordProof, error) {
	if size > l.size || index < 0 || index >= size {
		return nil, fmt.Errorf("no entry %d in a log of %d entries at size %d", index, l.size, size)
	}
	return tlog.ProveRecord(size, index, l.hashes)
}

// ProveConsistency proves that the log at newer extends the log at older.
func (l *Log) ProveConsistency(older, newer int64) (tlog.TreeProof, error) {
	if newer > l.size || older < 0 || older > newer {
		return nil, fmt.Errorf("no consistency proof from size %d to %d in a log of %d entries", older, newer, l.size)
	}
	if older == 0 {
		return tlog.TreeProof{}, nil
	}
	return tlog.ProveTree(newer, older, l.hashes)
}
