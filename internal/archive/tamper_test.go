package archive

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/incidentops/incident-operator/internal/translog"
)

// storage is a store under test with the rights of whoever administers
// the storage: to replace and delete what the store itself never would.
type storage struct {
	Store
	replace func(t testing.TB, key string, data []byte)
	remove  func(t testing.TB, key string)
}

func dirStorage(t *testing.T) storage {
	root := t.TempDir()
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	path := func(key string) string { return filepath.Join(root, filepath.FromSlash(key)) }
	return storage{
		Store: d,
		replace: func(t testing.TB, key string, data []byte) {
			if err := os.Chmod(path(key), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path(key), data, 0o444); err != nil {
				t.Fatal(err)
			}
		},
		remove: func(t testing.TB, key string) {
			if err := os.Remove(path(key)); err != nil {
				t.Fatal(err)
			}
		},
	}
}

// The archive every tampering starts from: 60 incidents of 20 entries
// over 2026, five days each, in batches of 50 (24 batches; tiles 0-3
// complete), verified from March to September.
type archiveFixture struct {
	key     keyPair
	entries []translog.Entry
	batches []translog.Batch
}

const fixturePer = 50

var rangeFrom, rangeTo = month(3), month(10)

func newArchiveFixture(t testing.TB) archiveFixture {
	f := archiveFixture{key: newKeyPair(t, "k"), entries: yearOfIncidents(60, 20)}
	f.batches = writeLog(t, f.key, nil, f.entries, fixturePer)
	return f
}

func (f archiveFixture) options() translog.VerifyOptions {
	return translog.VerifyOptions{Origin: testOrigin, Verifier: f.key.verifier}
}

// without is the log rebuilt and signed again without an incident.
func (f archiveFixture) without(t testing.TB, incident string) []translog.Batch {
	var kept []translog.Entry
	for _, e := range f.entries {
		if e.Incident != incident {
			kept = append(kept, e)
		}
	}
	return writeLog(t, f.key, nil, kept, fixturePer)
}

// rewrite replaces the whole archive with batches.
func rewrite(t testing.TB, s storage, batches []translog.Batch) {
	keys, err := s.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range keys {
		s.remove(t, key)
	}
	archive(t, s, batches)
}

type tampering struct {
	// tamper changes the archive as someone with the storage's rights
	// would, and returns what the auditor verifies it with.
	tamper func(t testing.TB, f archiveFixture, s storage) translog.VerifyOptions
	// caughtBy are the checks that catch it: with them off, it verifies.
	caughtBy check
	// want begins the first problem; incident is named by it.
	want     func(t testing.TB, f archiveFixture) string
	incident string
	// also begins another problem, when there is one to name.
	also func(t testing.TB, f archiveFixture) string
}

func uid(n int) string { return fmt.Sprintf("0b5e1c2d-0000-4000-8000-%012d", n) }

var tamperings = map[string]tampering{
	"an incident removed, the archive rewritten and signed again, the statuses kept": {
		tamper: func(t testing.TB, f archiveFixture, s storage) translog.VerifyOptions {
			rewrite(t, s, f.without(t, "incident-0020"))
			opts := f.options()
			opts.Expect = statuses(f.batches)
			return opts
		},
		caughtBy: checkLog,
		want: func(t testing.TB, f archiveFixture) string {
			last, _ := f.entryOf(t, "incident-0020", 19)
			return fmt.Sprintf("entry %d (incident security/incident-0020 uid %s): the incident's status points here, but the entry is of incident security/incident-0021", last, uid(20))
		},
		incident: "incident security/incident-0020 uid " + uid(20),
	},
	"an incident removed, the archive rewritten and signed again, a checkpoint kept": {
		tamper: func(t testing.TB, f archiveFixture, s storage) translog.VerifyOptions {
			rewrite(t, s, f.without(t, "incident-0020"))
			opts := f.options()
			_, b := f.entryOf(t, "incident-0020", 19)
			opts.Kept = [][]byte{f.batches[b].Checkpoint}
			return opts
		},
		caughtBy: checkLog,
		want: func(t testing.TB, f archiveFixture) string {
			first, b := f.entryOf(t, "incident-0020", 0)
			return fmt.Sprintf("entries %d-%d (incident security/incident-0021", first-first%fixturePer, f.batches[b+1].First-1)
		},
	},
	"an entry edited": {
		tamper: func(t testing.TB, f archiveFixture, s storage) translog.VerifyOptions {
			index, b := f.entryOf(t, "incident-0030", 3)
			batch := edited(t, f.batches[b], index, func(e *translog.Entry) { e.Action = "Dismissed" })
			s.replace(t, batchKey(testOrigin, batch.First), batch.Encode())
			return f.options()
		},
		caughtBy: checkLog | checkTiles,
		want:     tileDiffers(30, 3),
		incident: "incident security/incident-0030 uid " + uid(30),
	},
	"a tile deleted": {
		tamper: func(t testing.TB, f archiveFixture, s storage) translog.VerifyOptions {
			s.remove(t, tileKey(testOrigin, 0, 2))
			return f.options()
		},
		// The newest archived checkpoint's proof reads the tile too.
		caughtBy: checkTiles | checkCheckpoints,
		want: func(testing.TB, archiveFixture) string {
			return "entries 512-767 (incident security/incident-0025 uid " + uid(25) + ", "
		},
		incident: "incident security/incident-0025 uid " + uid(25),
	},
	"a month cut off": {
		tamper: func(t testing.TB, f archiveFixture, s storage) translog.VerifyOptions {
			for _, i := range overlapping(t, f.batches, month(6), month(7)) {
				s.remove(t, batchKey(testOrigin, f.batches[i].First))
				s.remove(t, checkpointKey(testOrigin, f.batches[i].End()))
			}
			return f.options()
		},
		caughtBy: checkLog,
		// The batch after the cut does not link to the one before it, and
		// its entries are not where the tree puts them.
		want: func(t testing.TB, f archiveFixture) string {
			june := overlapping(t, f.batches, month(6), month(7))
			after := f.batches[june[len(june)-1]+1]
			e := f.entries[after.First]
			return fmt.Sprintf("entries %d-%d (incident security/%s uid %s", f.batches[june[0]].First, f.batches[june[0]].First+after.Len()-1, e.Incident, e.UID)
		},
		also: func(t testing.TB, f archiveFixture) string {
			june := overlapping(t, f.batches, month(6), month(7))
			first, last := f.batches[june[0]].First, f.batches[june[len(june)-1]].End()-1
			return fmt.Sprintf("entries %d-%d: missing: the entry after %d is entry %d", first, last, first-1, last+1)
		},
	},
	"a forked history: the batches from May rewritten and signed again": {
		tamper: func(t testing.TB, f archiveFixture, s storage) translog.VerifyOptions {
			may := overlapping(t, f.batches, month(5), month(6))[0]
			index, _ := f.entryOf(t, "incident-0023", 2)
			entries := slices.Clone(f.entries[f.batches[may].First:])
			entries[index-f.batches[may].First].Action = "Dismissed"
			for _, b := range writeLog(t, f.key, f.batches[:may], entries, fixturePer)[may:] {
				s.replace(t, batchKey(testOrigin, b.First), b.Encode())
			}
			return f.options()
		},
		caughtBy: checkTiles | checkCheckpoints,
		want:     tileDiffers(23, 2),
		incident: "incident security/incident-0023 uid " + uid(23),
	},
	"a forked history: a checkpoint of another history archived": {
		tamper: func(t testing.TB, f archiveFixture, s storage) translog.VerifyOptions {
			may := overlapping(t, f.batches, month(5), month(6))[0]
			start := f.batches[may].First
			entries := slices.Clone(f.entries[start : start+10])
			entries[5].Action = "Dismissed"
			fork := writeLog(t, f.key, f.batches[:may], entries, fixturePer)[may]
			if err := s.Create(context.Background(), checkpointKey(testOrigin, fork.End()), fork.Checkpoint, year); err != nil {
				t.Fatal(err)
			}
			return f.options()
		},
		caughtBy: checkCheckpoints,
		want: func(t testing.TB, f archiveFixture) string {
			start := f.batches[overlapping(t, f.batches, month(5), month(6))[0]].First
			e := f.entries[start]
			return fmt.Sprintf("entries %d-%d (incident security/%s uid %s): the kept checkpoint at size %d does not extend", start, start+9, e.Incident, e.UID, start+10)
		},
	},
}

// tileDiffers is the problem of incident n's step-th entry, changed in
// its batch but not in its tile.
func tileDiffers(n, step int) func(t testing.TB, f archiveFixture) string {
	return func(t testing.TB, f archiveFixture) string {
		index, _ := f.entryOf(t, fmt.Sprintf("incident-%04d", n), step)
		return fmt.Sprintf("entry %d (incident security/incident-%04d uid %s): %s holds other hashes", index, n, uid(n), tileKey(testOrigin, 0, index/tileWidth))
	}
}

// entryOf is where an incident's step-th entry is in the fixture's log.
func (f archiveFixture) entryOf(t testing.TB, incident string, step int) (int64, int) {
	return entryOf(t, f.batches, incident, step)
}

// testTamperings runs the tamperings on archives in the storage newStorage
// makes: each is caught and named, and goes unnoticed with the checks
// that catch it off, so that none of them is there for show.
func testTamperings(t *testing.T, newStorage func(t *testing.T) storage) {
	f := newArchiveFixture(t)
	ctx := context.Background()

	t.Run("untampered", func(t *testing.T) {
		s := newStorage(t)
		archive(t, s, f.batches)
		opts := f.options()
		opts.Expect = statuses(f.batches)
		for _, b := range f.batches {
			opts.Kept = append(opts.Kept, b.Checkpoint)
		}
		res, err := Verify(ctx, s, testOrigin, opts, rangeFrom, rangeTo)
		if err != nil {
			t.Fatal(err)
		}
		// The range's batches, then the one after them.
		in := overlapping(t, f.batches, rangeFrom, rangeTo)
		begin, end := f.batches[in[0]], f.batches[in[len(in)-1]+1]
		if res.First != begin.First || res.End != end.End() || res.Checkpoint.Size != res.End || res.Size != 1200 || res.BytesRead == 0 {
			t.Errorf("result %+v; want entries %d-%d", res, begin.First, end.End()-1)
		}
	})

	for name, tt := range tamperings {
		t.Run(name, func(t *testing.T) {
			s := newStorage(t)
			archive(t, s, f.batches)
			opts := tt.tamper(t, f, s)
			_, err := Verify(ctx, s, testOrigin, opts, rangeFrom, rangeTo)
			var broken *translog.BrokenError
			if !errors.As(err, &broken) {
				t.Fatalf("Verify returned %v, want a *translog.BrokenError", err)
			}
			first := broken.Problems[0]
			if want := tt.want(t, f); !strings.HasPrefix(first.String(), want) {
				t.Errorf("first problem\n  %s\nwant one beginning\n  %s\nall:\n%s", first, want, problems(broken))
			}
			if tt.also != nil {
				want := tt.also(t, f)
				if !slices.ContainsFunc(broken.Problems, func(p translog.Problem) bool { return strings.HasPrefix(p.String(), want) }) {
					t.Errorf("no problem begins\n  %s\nall:\n%s", want, problems(broken))
				}
			}
			if tt.incident != "" && !slices.Contains(first.Incidents, tt.incident) {
				t.Errorf("first problem names %q, not %s", first.Incidents, tt.incident)
			}
			if _, err := verify(ctx, s, testOrigin, opts, rangeFrom, rangeTo, allChecks&^tt.caughtBy); err != nil {
				t.Errorf("with the checks that catch it off, it is still caught: %v", err)
			}
		})
	}
}

func problems(err *translog.BrokenError) string {
	var b strings.Builder
	for _, p := range err.Problems {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}

func TestDirTamperings(t *testing.T) { testTamperings(t, dirStorage) }
