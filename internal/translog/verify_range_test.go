package translog

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// storedHashes are the stored hashes of the log batches make, as an
// archive's tiles hold them.
func storedHashes(t testing.TB, batches []Batch) *MemoryHashes {
	t.Helper()
	hashes := &MemoryHashes{}
	l := NewLog(testOrigin, hashes)
	for _, b := range batches {
		if err := l.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	return hashes
}

// startAfter is where a range that begins with batches[k] starts.
func startAfter(batches []Batch, k int, hashes tlog.HashReader) RangeStart {
	return RangeStart{Checkpoint: batches[k-1].Checkpoint, Previous: batches[k-1].Hash(), Hashes: hashes}
}

func TestRangeOfAnUntamperedLogVerifies(t *testing.T) {
	f := newTamperFixture(t)
	hashes := storedHashes(t, f.batches)
	for k := 1; k < len(f.batches); k++ {
		opts := f.options()
		// Every checkpoint kept, before and in the range, and every status.
		for _, b := range f.batches {
			opts.Kept = append(opts.Kept, b.Checkpoint)
		}
		for n := range 6 {
			opts.Expect = append(opts.Expect, Expected{Namespace: "security", Incident: f.entries[n].Incident, UID: f.entries[n].UID, Entries: 4, Last: int64(18 + n)})
		}
		newest, err := VerifyRange(startAfter(f.batches, k, hashes), f.batches[k:], opts)
		if err != nil {
			t.Fatalf("from batch %d: %v", k, err)
		}
		if newest.Size != 24 {
			t.Errorf("from batch %d: newest checkpoint %+v", k, newest)
		}
	}
	// A zero start is the whole log.
	if _, err := VerifyRange(RangeStart{}, f.batches, f.options()); err != nil {
		t.Fatal(err)
	}
}

// rangeTampering is a tampering seen by a verifier of the batches from
// the third on (entries 10-23), which trusts the stored hashes before them.
type rangeTampering struct {
	tamper   func(t testing.TB, f tamperFixture) (RangeStart, []Batch, VerifyOptions)
	caughtBy check
	want     string
}

var rangeTamperings = map[string]rangeTampering{
	"a stored hash before the range changed": {
		tamper: func(t testing.TB, f tamperFixture) (RangeStart, []Batch, VerifyOptions) {
			hashes := storedHashes(t, f.batches)
			hashes.hashes[tlog.StoredHashIndex(3, 0)][0] ^= 1 // the subtree of entries 0-7
			return startAfter(f.batches, 2, hashes), f.batches[2:], f.options()
		},
		caughtBy: checkRoots,
		want:     "entries 0-9: the stored hashes of the log before the range give root",
	},
	"the first batch of the range removed": {
		tamper: func(t testing.TB, f tamperFixture) (RangeStart, []Batch, VerifyOptions) {
			return startAfter(f.batches, 2, storedHashes(t, f.batches)), f.batches[3:], f.options()
		},
		caughtBy: checkIndexes | checkLinks | checkRoots | checkCheckpoints,
		want:     "entries 10-14: missing",
	},
	"the batch before the range changed": {
		tamper: func(t testing.TB, f tamperFixture) (RangeStart, []Batch, VerifyOptions) {
			before := cloneBatches(f.batches[:2])
			editLine(t, &before[1], 2, `"action":"Routed"`, `"action":"Dismissed"`)
			return startAfter(before, 2, storedHashes(t, f.batches)), f.batches[2:], f.options()
		},
		caughtBy: checkLinks,
		want:     "entries 10-14 (",
	},
	"the log before the range rewritten and signed again, an older checkpoint kept": {
		tamper: func(t testing.TB, f tamperFixture) (RangeStart, []Batch, VerifyOptions) {
			rewritten := continueLog(t, f.key, f.batches[:1], f.edited()[5:], fixturePer)
			opts := f.options()
			opts.Kept = [][]byte{f.batches[0].Checkpoint, f.batches[1].Checkpoint}
			return startAfter(rewritten, 2, storedHashes(t, rewritten)), rewritten[2:], opts
		},
		caughtBy: checkConsistency,
		want:     "entries 5-9: the checkpoint where the range begins does not extend the kept checkpoint at size 10",
	},
	"an incident removed, its last entry in the range": {
		tamper: func(t testing.TB, f tamperFixture) (RangeStart, []Batch, VerifyOptions) {
			var kept []Entry
			for _, e := range f.entries {
				if e.Incident != "incident-002" {
					kept = append(kept, e)
				}
			}
			rewritten := writeLog(t, f.key, kept, fixturePer)
			opts := f.options()
			opts.Expect = []Expected{
				// Written when the incident had three entries, the third at 14.
				{Namespace: "security", Incident: "incident-002", UID: "0b5e1c2d-0000-4000-8000-000000000002", Entries: 3, Last: 14},
				// Before the range: not the range's to check.
				{Namespace: "security", Incident: "incident-002", UID: "0b5e1c2d-0000-4000-8000-000000000002", Entries: 1, Last: 2},
			}
			return startAfter(rewritten, 2, storedHashes(t, rewritten)), rewritten[2:], opts
		},
		caughtBy: checkExpected,
		want:     "entry 14 (incident security/incident-002 uid 0b5e1c2d-0000-4000-8000-000000000002): the incident's status points here",
	},
	"an entry in the range edited": {
		tamper: func(t testing.TB, f tamperFixture) (RangeStart, []Batch, VerifyOptions) {
			b := cloneBatches(f.batches)
			editLine(t, &b[3], 1, `"action":"Acknowledged"`, `"action":"Dismissed"`)
			return startAfter(b, 2, storedHashes(t, f.batches)), b[2:], f.options()
		},
		caughtBy: checkRoots | checkCheckpoints | checkLinks | checkConsistency,
		want:     "entries 15-19 (incident security/incident-003",
	},
}

func TestRangeTamperingIsCaught(t *testing.T) {
	f := newTamperFixture(t)
	for name, tt := range rangeTamperings {
		t.Run(name, func(t *testing.T) {
			start, batches, opts := tt.tamper(t, f)
			_, err := VerifyRange(start, batches, opts)
			broken, ok := err.(*BrokenError)
			if !ok {
				t.Fatalf("VerifyRange returned %v, want a *BrokenError", err)
			}
			if first := broken.Problems[0].String(); !strings.HasPrefix(first, tt.want) {
				t.Errorf("first problem %q, want one beginning %q; all:\n%s", first, tt.want, problemList(broken.Problems))
			}
		})
	}
}

// As for a whole log: with the checks that catch a tampering off it goes
// unnoticed, and each of them alone catches it.
func TestRangeTamperingNeedsItsChecks(t *testing.T) {
	f := newTamperFixture(t)
	for name, tt := range rangeTamperings {
		t.Run(name, func(t *testing.T) {
			start, batches, opts := tt.tamper(t, f)
			if _, problems := verifyRange(start, batches, opts, allChecks&^tt.caughtBy); len(problems) > 0 {
				t.Errorf("with %s off it is still caught:\n%s", tt.caughtBy, problemList(problems))
			}
			for c := check(1); c <= tt.caughtBy; c <<= 1 {
				if tt.caughtBy&c == 0 {
					continue
				}
				problems := onlyBy(verifyRange(start, batches, opts, allChecks&^tt.caughtBy|c))
				if len(problems) == 0 {
					t.Errorf("%s alone does not catch it", c)
				}
				for _, p := range problems {
					if p.check != c {
						t.Errorf("with only %s of %s on, %s reported %s", c, tt.caughtBy, p.check, p)
					}
				}
			}
		})
	}
}

// A missing stored hash is a problem, not a panic or a pass.
func TestRangeWithoutStoredHashesFails(t *testing.T) {
	f := newTamperFixture(t)
	_, err := VerifyRange(startAfter(f.batches, 2, &MemoryHashes{}), f.batches[2:], f.options())
	if err == nil || !strings.Contains(err.Error(), "entries 0-9: reading the stored hashes of the log before the range") {
		t.Fatalf("VerifyRange without stored hashes: %v", err)
	}
}

// The range verifier holds only the complete subtrees at its start. That
// is enough because appending, the root at a larger size and a proof
// between larger sizes read no other stored hash below the start: checked
// here for every start, size and proof up to 100 entries.
func TestRangeReadsOnlyTheStartsSubtrees(t *testing.T) {
	const most = 100
	hashes := &MemoryHashes{}
	for n := range int64(most) {
		added, err := tlog.StoredHashes(n, []byte{byte(n)}, hashes)
		if err != nil {
			t.Fatal(err)
		}
		if err := hashes.AppendHashes(tlog.StoredHashCount(n), added); err != nil {
			t.Fatal(err)
		}
	}
	for start := int64(1); start <= most; start++ {
		allowed := subtrees(start)
		below := tlog.StoredHashCount(start)
		reader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
			for _, x := range indexes {
				if x < below && !slices.Contains(allowed, x) {
					t.Fatalf("from %d, stored hash %d below the start is read", start, x)
				}
			}
			return hashes.ReadHashes(indexes)
		})
		for size := start; size <= most; size++ {
			if size < most {
				if _, err := tlog.StoredHashes(size, []byte{byte(size)}, reader); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := tlog.TreeHash(size, reader); err != nil {
				t.Fatal(err)
			}
			for older := start; older < size; older++ {
				if _, err := tlog.ProveTree(size, older, reader); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}
