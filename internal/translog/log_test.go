package translog

import (
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// Every entry is proved in every checkpoint that covers it, and every
// checkpoint is proved to extend every earlier one, with only the public
// key and the proof.
func TestProofs(t *testing.T) {
	key := newKeyPair(t, "k")
	entries := testEntries(4, 5)
	l := NewLog(testOrigin, &MemoryHashes{})
	var checkpoints []Checkpoint
	var lines [][]byte
	for i := 0; i < len(entries); i += 3 {
		b, err := l.Next(entries[i:min(i+3, len(entries))], key.signer)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Append(b); err != nil {
			t.Fatal(err)
		}
		c, err := OpenCheckpoint(b.Checkpoint, testOrigin, key.verifier)
		if err != nil {
			t.Fatal(err)
		}
		checkpoints = append(checkpoints, c)
		more, _ := b.Lines()
		lines = append(lines, more...)
	}
	for _, c := range checkpoints {
		for i := range c.Size {
			proof, err := l.ProveInclusion(i, c.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckInclusion(proof, c, i, lines[i]); err != nil {
				t.Errorf("entry %d at size %d: %v", i, c.Size, err)
			}
			if err := CheckInclusion(proof, c, i, append([]byte(nil), lines[(i+1)%c.Size]...)); c.Size > 1 && err == nil {
				t.Errorf("entry %d at size %d: another entry's line is proved", i, c.Size)
			}
		}
		for _, older := range checkpoints {
			if older.Size > c.Size {
				continue
			}
			proof, err := l.ProveConsistency(older.Size, c.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckConsistency(proof, older, c); err != nil {
				t.Errorf("size %d to %d: %v", older.Size, c.Size, err)
			}
		}
	}
	// A fork: a checkpoint of another history at an older size.
	fork := writeLog(t, key, testEntries(5, 5), 3)
	forked, _ := OpenCheckpoint(fork[1].Checkpoint, testOrigin, key.verifier)
	last := checkpoints[len(checkpoints)-1]
	proof, _ := l.ProveConsistency(forked.Size, last.Size)
	if err := CheckConsistency(proof, forked, last); err == nil || !strings.Contains(err.Error(), "does not extend") {
		t.Errorf("a fork is consistent: %v", err)
	}
}

// The root a writer gets is the RFC 6962 root of the entries' lines,
// computed here from the definition without stored hashes.
func TestRootIsRFC6962(t *testing.T) {
	var mth func(leaves [][]byte) tlog.Hash
	mth = func(leaves [][]byte) tlog.Hash {
		if len(leaves) == 1 {
			return tlog.RecordHash(leaves[0])
		}
		k := 1
		for k*2 < len(leaves) {
			k *= 2
		}
		return tlog.NodeHash(mth(leaves[:k]), mth(leaves[k:]))
	}
	batches := writeLog(t, newKeyPair(t, "k"), testEntries(3, 7), 5)
	var leaves [][]byte
	for _, b := range batches {
		lines, _ := b.Lines()
		leaves = append(leaves, lines...)
		if got := mth(leaves); got != b.Root {
			t.Errorf("batch %s: root %x, RFC 6962 gives %x", b.Name(), b.Root, got)
		}
	}
}

func TestAppendRefusesWhatDoesNotContinue(t *testing.T) {
	key := newKeyPair(t, "k")
	batches := writeLog(t, key, testEntries(2, 4), 3)
	tests := map[string]struct {
		kept  int
		batch func() Batch
		err   string
	}{
		"a batch at another index": {1, func() Batch { return batches[2] }, "begins at 6; the log holds 3"},
		"a batch of another log": {1, func() Batch {
			b := cloneBatches(batches[1:2])[0]
			b.Previous[0]++
			return b
		}, "does not link"},
		"a batch whose root is not its entries'": {1, func() Batch {
			b := cloneBatches(batches[1:2])[0]
			b.Root[0]++
			return b
		}, "records a root"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			l := NewLog(testOrigin, &MemoryHashes{})
			for _, b := range batches[:tt.kept] {
				if err := l.Append(b); err != nil {
					t.Fatal(err)
				}
			}
			if err := l.Append(tt.batch()); err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("error %v, want one containing %q", err, tt.err)
			}
			if l.Size() != batches[tt.kept-1].End() {
				t.Errorf("a refused batch changed the log's size to %d", l.Size())
			}
		})
	}
	if _, err := NewLog(testOrigin, &MemoryHashes{}).Next(nil, key.signer); err == nil {
		t.Error("an empty batch was built")
	}
}
