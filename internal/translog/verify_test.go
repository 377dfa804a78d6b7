package translog

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// The log every tampering starts from: 6 incidents of 4 entries each,
// interleaved (entry i is incident-00(i%6)'s), in batches of 5, so the
// batches hold entries 0-4, 5-9, 10-14, 15-19 and 20-23.
type tamperFixture struct {
	key, other keyPair
	entries    []Entry
	batches    []Batch
}

const fixturePer = 5

func newTamperFixture(t testing.TB) tamperFixture {
	f := tamperFixture{key: newKeyPair(t, "k"), other: newKeyPair(t, "o"), entries: testEntries(6, 4)}
	f.batches = writeLog(t, f.key, f.entries, fixturePer)
	return f
}

func (f tamperFixture) options() VerifyOptions {
	return VerifyOptions{Origin: testOrigin, Verifier: f.key.verifier}
}

// editLine changes from to to in line i of b.
func editLine(t testing.TB, b *Batch, i int, from, to string) {
	t.Helper()
	lines, _ := b.Lines()
	if !bytes.Contains(lines[i], []byte(from)) {
		t.Fatalf("line %d of batch %s has no %q: %s", i, b.Name(), from, lines[i])
	}
	lines[i] = bytes.Replace(lines[i], []byte(from), []byte(to), 1)
	b.Payload = append(bytes.Join(lines, []byte{'\n'}), '\n')
}

// edited is the fixture's entries with entry 7 (incident-001's second)
// saying it was dismissed rather than routed.
func (f tamperFixture) edited() []Entry {
	entries := slices.Clone(f.entries)
	entries[7].Action = "Dismissed"
	return entries
}

// changed is a tampering that changes only the batches.
func changed(change func(b []Batch) []Batch) func(testing.TB, tamperFixture) ([]Batch, VerifyOptions) {
	return func(_ testing.TB, f tamperFixture) ([]Batch, VerifyOptions) {
		return change(cloneBatches(f.batches)), f.options()
	}
}

type tampering struct {
	// tamper returns the log as the auditor reads it, and what else the
	// auditor holds.
	tamper func(t testing.TB, f tamperFixture) ([]Batch, VerifyOptions)
	// caughtBy are the checks that each catch it alone; with all of them
	// off it goes unnoticed.
	caughtBy check
	// want begins the first problem: the entries it names.
	want string
	// incident is named with the first problem, when its entries are there.
	incident string
}

var tamperings = map[string]tampering{
	"an entry's bytes edited": {
		tamper: func(t testing.TB, f tamperFixture) ([]Batch, VerifyOptions) {
			b := cloneBatches(f.batches)
			editLine(t, &b[1], 2, `"action":"Routed"`, `"action":"Dismissed"`)
			return b, f.options()
		},
		caughtBy: checkRoots | checkCheckpoints | checkLinks | checkConsistency,
		want:     "entries 5-9 (", incident: "incident security/incident-001 uid 0b5e1c2d-0000-4000-8000-000000000001",
	},
	"an entry removed": {
		tamper: changed(func(b []Batch) []Batch {
			lines, _ := b[1].Lines()
			b[1].Payload = append(bytes.Join(slices.Delete(lines, 2, 3), []byte{'\n'}), '\n')
			return b
		}),
		caughtBy: checkIndexes | checkRoots | checkCheckpoints | checkLinks | checkConsistency,
		want:     "entry 7: missing",
	},
	"a whole batch removed": {
		tamper:   changed(func(b []Batch) []Batch { return slices.Delete(b, 2, 3) }),
		caughtBy: checkIndexes | checkRoots | checkCheckpoints | checkLinks,
		want:     "entries 10-14: missing",
	},
	"two batches reordered": {
		tamper: changed(func(b []Batch) []Batch {
			b[2], b[3] = b[3], b[2]
			return b
		}),
		caughtBy: checkIndexes | checkRoots | checkCheckpoints | checkLinks | checkConsistency,
		want:     "entry 10 (incident security/incident-004 uid 0b5e1c2d-0000-4000-8000-000000000004): entry 10 comes again",
	},
	"a previous-hash link changed": {
		tamper: changed(func(b []Batch) []Batch {
			b[3].Previous[0] ^= 1
			return b
		}),
		caughtBy: checkLinks,
		want:     "entries 15-19 (", incident: "incident security/incident-003 uid 0b5e1c2d-0000-4000-8000-000000000003",
	},
	"an edited log signed again with another key": {
		tamper: func(t testing.TB, f tamperFixture) ([]Batch, VerifyOptions) {
			return continueLog(t, f.other, f.batches[:1], f.edited()[5:], fixturePer), f.options()
		},
		caughtBy: checkSignatures,
		want:     "entries 5-9 (", incident: "incident security/incident-001 uid 0b5e1c2d-0000-4000-8000-000000000001",
	},
	"an edited log signed again with the log key, earlier checkpoints kept": {
		tamper: func(t testing.TB, f tamperFixture) ([]Batch, VerifyOptions) {
			opts := f.options()
			opts.Kept = [][]byte{f.batches[0].Checkpoint, f.batches[2].Checkpoint}
			return continueLog(t, f.key, f.batches[:1], f.edited()[5:], fixturePer), opts
		},
		caughtBy: checkConsistency,
		// The kept checkpoint at 5 still holds, the one at 15 does not.
		want: "entries 5-14 (",
	},
	"the tail cut off, the last checkpoint kept": {
		tamper: func(t testing.TB, f tamperFixture) ([]Batch, VerifyOptions) {
			opts := f.options()
			opts.Kept = [][]byte{f.batches[4].Checkpoint}
			return cloneBatches(f.batches[:3]), opts
		},
		caughtBy: checkCoverage,
		want:     "entries 15-23: missing",
	},
	"a batch's recorded root changed": {
		tamper: changed(func(b []Batch) []Batch {
			b[4].Root[0] ^= 1
			return b
		}),
		caughtBy: checkRoots,
		want:     "entries 20-23 (",
	},
	"a batch's checkpoint swapped for an earlier genuine one": {
		tamper: changed(func(b []Batch) []Batch {
			b[4].Checkpoint = b[3].Checkpoint
			return b
		}),
		caughtBy: checkCheckpoints,
		want:     "entries 20-23 (",
	},
	"the last batch renumbered": {
		tamper: changed(func(b []Batch) []Batch {
			b[4].First++
			return b
		}),
		caughtBy: checkIndexes,
		want:     "entries 20-21 (",
	},
	"an incident removed whole, the log rebuilt and signed again": {
		tamper: func(t testing.TB, f tamperFixture) ([]Batch, VerifyOptions) {
			var kept []Entry
			for _, e := range f.entries {
				if e.Incident != "incident-002" {
					kept = append(kept, e)
				}
			}
			opts := f.options()
			opts.Expect = []Expected{{Namespace: "security", Incident: "incident-002", UID: "0b5e1c2d-0000-4000-8000-000000000002", Entries: 4, Last: 20}}
			return writeLog(t, f.key, kept, fixturePer), opts
		},
		caughtBy: checkExpected,
		want:     "entry 20 (incident security/incident-002 uid 0b5e1c2d-0000-4000-8000-000000000002): missing",
	},
	"one entry of an incident removed, the log rebuilt and signed again with its last entry where it was": {
		tamper: func(t testing.TB, f tamperFixture) ([]Batch, VerifyOptions) {
			var kept []Entry
			for i, e := range f.entries {
				if i == 2 {
					continue
				}
				if i == 20 {
					kept = append(kept, f.entries[3])
				}
				kept = append(kept, e)
			}
			opts := f.options()
			opts.Expect = []Expected{{Namespace: "security", Incident: "incident-002", UID: "0b5e1c2d-0000-4000-8000-000000000002", Entries: 4, Last: 20}}
			return writeLog(t, f.key, kept, fixturePer), opts
		},
		caughtBy: checkExpected,
		want:     "entry 20 (incident security/incident-002 uid 0b5e1c2d-0000-4000-8000-000000000002): missing: the incident's status counts 4 entries",
	},
}

func TestUntamperedLogVerifies(t *testing.T) {
	f := newTamperFixture(t)
	opts := f.options()
	for _, b := range f.batches {
		opts.Kept = append(opts.Kept, b.Checkpoint)
	}
	for n := range 6 {
		x := Expected{Namespace: "security", Incident: f.entries[n].Incident, UID: f.entries[n].UID}
		for i := n; i < len(f.entries); i += 6 {
			x.Entries, x.Last = x.Entries+1, int64(i)
		}
		opts.Expect = append(opts.Expect, x)
	}
	newest, err := Verify(f.batches, opts)
	if err != nil {
		t.Fatal(err)
	}
	if newest.Size != 24 || newest.Origin != testOrigin {
		t.Errorf("newest checkpoint %+v", newest)
	}
	// Read back from the archive's bytes, it still verifies.
	var read []Batch
	for _, b := range f.batches {
		back, err := DecodeBatch(b.Encode())
		if err != nil {
			t.Fatal(err)
		}
		read = append(read, back)
	}
	if _, err := Verify(read, opts); err != nil {
		t.Fatal(err)
	}
}

// Each tampering is caught, and the first problem names the entries, and
// the incident when its entries are there to say.
func TestTamperingIsCaught(t *testing.T) {
	f := newTamperFixture(t)
	for name, tt := range tamperings {
		t.Run(name, func(t *testing.T) {
			batches, opts := tt.tamper(t, f)
			_, err := Verify(batches, opts)
			broken, ok := err.(*BrokenError)
			if !ok {
				t.Fatalf("Verify returned %v, want a *BrokenError", err)
			}
			first := broken.Problems[0]
			if !strings.HasPrefix(first.String(), tt.want) {
				t.Errorf("first problem %q, want one beginning %q; all:\n%s", first, tt.want, problemList(broken.Problems))
			}
			if tt.incident != "" && !slices.Contains(first.Incidents, tt.incident) {
				t.Errorf("first problem names %v, not %s", first.Incidents, tt.incident)
			}
			if !strings.HasPrefix(err.Error(), "log does not verify: "+tt.want) {
				t.Errorf("error %q", err)
			}
		})
	}
}

// Each check is what catches its tamperings: with the checks that catch a
// tampering switched off it goes unnoticed, and each of them alone catches
// it. So no check is there for show.
func TestTamperingNeedsItsChecks(t *testing.T) {
	f := newTamperFixture(t)
	for name, tt := range tamperings {
		t.Run(name, func(t *testing.T) {
			batches, opts := tt.tamper(t, f)
			if _, problems := verify(batches, opts, allChecks&^tt.caughtBy); len(problems) > 0 {
				t.Errorf("with %s off it is still caught:\n%s", tt.caughtBy, problemList(problems))
			}
			for c := check(1); c <= tt.caughtBy; c <<= 1 {
				if tt.caughtBy&c == 0 {
					continue
				}
				problems := onlyBy(verify(batches, opts, allChecks&^tt.caughtBy|c))
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

func onlyBy(_ Checkpoint, problems []Problem) []Problem { return problems }

// Every check is the only one that catches some tampering: switched off,
// that tampering verifies.
func TestEveryCheckIsNeeded(t *testing.T) {
	for c := check(1); c <= allChecks; c <<= 1 {
		found := false
		for _, tt := range tamperings {
			found = found || tt.caughtBy == c
		}
		if !found {
			t.Errorf("no tampering is caught by %s alone", c)
		}
	}
}

func TestVerifyNeedsTheKeyAndOrigin(t *testing.T) {
	f := newTamperFixture(t)
	if _, err := Verify(f.batches, VerifyOptions{Origin: testOrigin}); err == nil {
		t.Error("verified without a key")
	}
	if _, err := Verify(f.batches, VerifyOptions{Verifier: f.key.verifier}); err == nil {
		t.Error("verified without an origin")
	}
	// The same log under another origin does not verify.
	opts := f.options()
	opts.Origin = "incidents.example.com/log/finance"
	if _, err := Verify(f.batches, opts); err == nil || !strings.Contains(err.Error(), "not \"incidents.example.com/log/finance\"") {
		t.Errorf("another origin: %v", err)
	}
}

func problemList(problems []Problem) string {
	var b strings.Builder
	for _, p := range problems {
		b.WriteString("  [" + p.check.String() + "] " + p.String() + "\n")
	}
	return b.String()
}
