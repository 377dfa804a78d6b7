package translog

import (
	"cmp"
	"fmt"
	"slices"

	"golang.org/x/mod/sumdb/tlog"
)

// RangeStart is what a verifier of part of a log trusts about the entries
// before the part, in place of reading them: the checkpoint signed at the
// size where the part begins, the hash of the batch before it, and the
// stored hashes of the tree at that size (an archive keeps them as tiles).
// The stored hashes are not trusted blindly: those of the complete subtrees
// at the start must give the root that the checkpoint signs.
type RangeStart struct {
	// Checkpoint is the signed checkpoint of the batch before the range.
	Checkpoint []byte
	// Previous is the hash of the batch before the range, which the
	// range's first batch records.
	Previous tlog.Hash
	// Hashes reads the log's stored hashes below the range: those of the
	// complete subtrees at its start, and, for a kept checkpoint older
	// than the range, those of the proof that the start extends it.
	Hashes tlog.HashReader
}

// VerifyRange checks batches that continue a log from start as Verify
// checks a whole log, with three differences that come from not reading
// the entries before the range:
//   - the range's first entry must have the index the start's checkpoint
//     gives, and its first batch must record start.Previous;
//   - a kept checkpoint older than the range must be extended by the
//     start's checkpoint, proved from start.Hashes;
//   - of opts.Expect, only the statuses whose last entry is in the range
//     are checked, and only for that entry: counting an incident's entries
//     needs the whole log.
//
// A zero start is the log's beginning: VerifyRange is then Verify.
func VerifyRange(start RangeStart, batches []Batch, opts VerifyOptions) (Checkpoint, error) {
	if start.Checkpoint == nil || opts.Verifier == nil || opts.Origin == "" {
		return Verify(batches, opts) // which also says what the options lack
	}
	newest, problems := verifyRange(start, batches, opts, allChecks)
	if len(problems) > 0 {
		return newest, &BrokenError{Problems: problems}
	}
	return newest, nil
}

func verifyRange(start RangeStart, batches []Batch, opts VerifyOptions, checks check) (Checkpoint, []Problem) {
	v := &verification{opts: opts, checks: checks, incidentID: map[incidentKey]int32{}, found: map[int64]Entry{}, counted: map[incidentKey]int64{}}
	at, err := v.open(start.Checkpoint)
	if err != nil {
		unsigned, _ := readCheckpoint(start.Checkpoint)
		last := max(unsigned.Size-1, 0)
		v.add(checkSignatures, last, last, nil, "the checkpoint where the range begins: %v", err)
		return v.newest, v.problems
	}
	if !v.startAt(at, start) {
		return v.newest, v.problems
	}
	v.keptBefore(at, start.Hashes)
	end := at.Size
	for _, b := range batches {
		end += b.Len()
	}
	v.opts.Expect = nil
	for _, x := range opts.Expect {
		if x.Last >= at.Size && x.Last < end {
			x.Entries = 0
			v.opts.Expect = append(v.opts.Expect, x)
			v.found[x.Last] = Entry{Index: -1}
		}
	}
	for _, b := range batches {
		if err := v.batch(b); err != nil {
			v.add(0, v.size, v.size, nil, "hashing batch %s: %v", b.Name(), err)
			return v.newest, v.problems
		}
	}
	v.kept()
	v.consistent()
	v.expected()
	slices.SortStableFunc(v.problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Last, b.Last), cmp.Compare(b.Index, a.Index))
	})
	return v.newest, v.problems
}

// startAt sets the recomputed tree to the log at the start's checkpoint:
// the hashes of its complete subtrees, read from start.Hashes, which must
// give the root the checkpoint signs. It reports false when they cannot be
// read or do not.
//
// The tree holds only those hashes; the others below the start stay zero.
// That is enough: appending to a tree, its root at any larger size, and a
// proof between two larger sizes read no stored hash below the start but
// those of its complete subtrees (TestRangeReadsOnlyTheStartsSubtrees).
func (v *verification) startAt(at Checkpoint, start RangeStart) bool {
	size := at.Size
	last := max(size-1, 0)
	indexes := subtrees(size)
	read, err := start.Hashes.ReadHashes(indexes)
	if err == nil && len(read) != len(indexes) {
		err = fmt.Errorf("read %d stored hashes, asked for %d", len(read), len(indexes))
	}
	if err != nil {
		v.add(0, 0, last, nil, "reading the stored hashes of the log before the range: %v", err)
		return false
	}
	v.hashes = &MemoryHashes{hashes: make([]tlog.Hash, tlog.StoredHashCount(size))}
	for i, x := range indexes {
		v.hashes.hashes[x] = read[i]
	}
	root, err := tlog.TreeHash(size, v.hashes)
	if err != nil {
		v.add(0, 0, last, nil, "hashing the log before the range: %v", err)
		return false
	}
	if root != at.Root {
		v.add(checkRoots, 0, last, nil, "the stored hashes of the log before the range give root %s, the checkpoint where the range begins signs %s (a stored hash or tile was changed)", short(root), short(at.Root))
		return false
	}
	v.size, v.next, v.last = size, size, start.Previous
	// Entries before the range are of no known incident; the slice is
	// indexed by entry, as incidentsIn reads it.
	v.incidentAt = slices.Repeat([]int32{-1}, int(size))
	v.signed = append(v.signed, signedAt{at, "the checkpoint where the range begins", false})
	v.newest = at
	return true
}

// keptBefore checks the kept checkpoints older than the range: signed by
// the log key, and extended by the checkpoint where the range begins,
// proved from the stored hashes before it. It leaves the others in
// v.opts.Kept for kept to check.
func (v *verification) keptBefore(at Checkpoint, hashes tlog.HashReader) {
	var later [][]byte
	var before []signedAt
	for i, msg := range v.opts.Kept {
		c, err := v.open(msg)
		switch {
		case err != nil:
			unsigned, _ := readCheckpoint(msg)
			last := max(unsigned.Size-1, 0)
			v.add(checkSignatures, last, last, nil, "kept checkpoint %d: %v", i, err)
		case c.Size > at.Size:
			later = append(later, msg)
		default:
			before = append(before, signedAt{c, fmt.Sprintf("the kept checkpoint at size %d", c.Size), true})
		}
	}
	v.opts.Kept = later
	slices.SortStableFunc(before, func(a, b signedAt) int { return cmp.Compare(a.Size, b.Size) })
	var extended int64 // the largest kept size known to be extended
	for _, c := range before {
		err := Extends(at, c.Checkpoint, hashes)
		if err == nil {
			extended = c.Size
			continue
		}
		v.add(checkConsistency, extended, max(c.Size-1, 0), nil, "the checkpoint where the range begins does not extend %s: %v (the log before the range was changed, or rewritten and signed again: a fork)", c.where, err)
	}
}

// Extends checks that newer extends older, with a consistency proof made
// from hashes: the stored hashes of the log at newer's size or larger, as
// an archive's tiles hold them. Hashes of another tree give a proof that
// fails.
func Extends(newer, older Checkpoint, hashes tlog.HashReader) error {
	if older.Size == newer.Size {
		if older.Root != newer.Root {
			return fmt.Errorf("it signs a different root at the same size")
		}
		return nil
	}
	if older.Size == 0 {
		return nil
	}
	proof, err := tlog.ProveTree(newer.Size, older.Size, hashes)
	if err != nil {
		return err
	}
	return CheckConsistency(proof, older, newer)
}

// subtrees are the stored hash indexes of the complete subtrees of a tree
// of size entries, largest first: what its root and its next entry read.
func subtrees(size int64) []int64 {
	var indexes []int64
	var lo int64
	for level := 62; level >= 0; level-- {
		if size&(1<<level) != 0 {
			indexes = append(indexes, tlog.StoredHashIndex(level, lo>>level))
			lo += 1 << level
		}
	}
	return indexes
}
