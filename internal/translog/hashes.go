package translog

import (
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// HashStore keeps the log's stored hashes: the hash of every complete
// subtree, in tlog's numbering (tlog.StoredHashIndex). They are what the
// next append and every proof read. MemoryHashes keeps them in memory; a
// store of tiles can keep them in an archive.
type HashStore interface {
	tlog.HashReader
	// AppendHashes stores hashes whose stored indexes begin at start, which
	// is the number already stored.
	AppendHashes(start int64, hashes []tlog.Hash) error
}

// MemoryHashes is a HashStore in memory. The zero value is empty.
type MemoryHashes struct {
	hashes []tlog.Hash
}

// ReadHashes returns the hashes at indexes.
func (m *MemoryHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m.hashes)) {
			return nil, fmt.Errorf("stored hash %d is not in the log's %d", x, len(m.hashes))
		}
		out[i] = m.hashes[x]
	}
	return out, nil
}

// AppendHashes stores hashes after the ones already held.
func (m *MemoryHashes) AppendHashes(start int64, hashes []tlog.Hash) error {
	if start != int64(len(m.hashes)) {
		return fmt.Errorf("appending stored hashes at %d to %d", start, len(m.hashes))
	}
	m.hashes = append(m.hashes, hashes...)
	return nil
}

// pendingHashes reads the stored hashes of a log grown by entries that are
// not yet stored: those below start from the store, the rest from added.
type pendingHashes struct {
	stored tlog.HashReader
	start  int64
	added  []tlog.Hash
}

func (p *pendingHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var below []int64
	for i, x := range indexes {
		switch {
		case x >= p.start && x-p.start < int64(len(p.added)):
			out[i] = p.added[x-p.start]
		case x < p.start:
			below = append(below, x)
		default:
			return nil, fmt.Errorf("stored hash %d is not yet computed", x)
		}
	}
	if len(below) == 0 {
		return out, nil
	}
	read, err := p.stored.ReadHashes(below)
	if err != nil {
		return nil, err
	}
	if len(read) != len(below) {
		return nil, fmt.Errorf("read %d stored hashes, asked for %d", len(read), len(below))
	}
	j := 0
	for i, x := range indexes {
		if x < p.start {
			out[i] = read[j]
			j++
		}
	}
	return out, nil
}

// grow computes the stored hashes that lines add to a log of size entries
// held in stored, and the root after them, without storing anything.
func grow(stored tlog.HashReader, size int64, lines [][]byte) ([]tlog.Hash, tlog.Hash, error) {
	p := &pendingHashes{stored: stored, start: tlog.StoredHashCount(size)}
	for i, line := range lines {
		h, err := tlog.StoredHashes(size+int64(i), line, p)
		if err != nil {
			return nil, tlog.Hash{}, err
		}
		p.added = append(p.added, h...)
	}
	root, err := tlog.TreeHash(size+int64(len(lines)), p)
	if err != nil {
		return nil, tlog.Hash{}, err
	}
	return p.added, root, nil
}
