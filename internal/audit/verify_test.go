package audit

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// verifyCall is what a tamper may change before Verify runs.
type verifyCall struct {
	namespace string
	subject   securityv1alpha1.AuditSubject
	entries   []securityv1alpha1.AuditEntry
	opts      VerifyOptions
}

// fullCall checks the test chain with every protection: keys and head.
func fullCall(t *testing.T) *verifyCall {
	entries, head := testChain(t)
	return &verifyCall{namespace: testNamespace, subject: testSubject, entries: entries, opts: VerifyOptions{Keys: testRing(t), Head: &head}}
}

func (c *verifyCall) run() (Result, error) {
	return Verify(c.namespace, c.subject, c.entries, c.opts)
}

// Tampers shared by TestVerifyCatchesTampering and TestVerifyBlindSpots.
var (
	cutTail = func(c *verifyCall) { c.entries = c.entries[:17] }
	// recompute edits entry 3 and rebuilds the chain from there, signing
	// with rogueKey.
	recompute = func(c *verifyCall) {
		c.entries[3].Actor.Username = "mallory"
		rechain(c.entries, 3, rogueKey)
	}
)

// editedAt7 is how an edit of entry 7's content is found.
var editedAt7 = &BrokenError{Sequence: 7, Reason: "hash does not match its content"}

// forgeHead cuts the trail to 16 entries and gives it a head for entry 15
// signed with rogueKey, as someone who cut the tail would need.
func forgeHead(c *verifyCall) {
	c.entries = c.entries[:16]
	head := *headOf(&c.entries[15])
	head.Signature = signature(rogueKey, head.Sequence, head.Hash)
	c.opts.Head = &head
}

// Every row but the untouched ones must fail, at the entry it names: a row
// that passes means the chain no longer protects what the row changes (for
// example a field left out of the canonical encoding).
func TestVerifyCatchesTampering(t *testing.T) {
	tests := map[string]struct {
		tamper func(c *verifyCall)
		want   *BrokenError // nil: verifies
	}{
		"untouched":                   {tamper: func(c *verifyCall) {}},
		"untouched, sealed":           {tamper: func(c *verifyCall) { c.opts.Sealed = true }},
		"untouched, hashes only":      {tamper: func(c *verifyCall) { c.opts.Keys = nil }},
		"untouched, without the head": {tamper: func(c *verifyCall) { c.opts.Head = nil }},

		"time edited": {
			tamper: func(c *verifyCall) { c.entries[7].Time.Time = c.entries[7].Time.Add(time.Microsecond) },
			want:   editedAt7,
		},
		"actor username edited": {
			tamper: func(c *verifyCall) { c.entries[7].Actor.Username = "bob" },
			want:   editedAt7,
		},
		"actor groups reordered": {
			tamper: func(c *verifyCall) { slices.Reverse(c.entries[7].Actor.Groups) },
			want:   editedAt7,
		},
		"actor group added": {
			tamper: func(c *verifyCall) { c.entries[7].Actor.Groups = append(c.entries[7].Actor.Groups, "system:masters") },
			want:   editedAt7,
		},
		"operator flag set": {
			tamper: func(c *verifyCall) { c.entries[7].Actor.Operator = true },
			want:   editedAt7,
		},
		"action edited": {
			tamper: func(c *verifyCall) { c.entries[7].Action = securityv1alpha1.AuditRouted },
			want:   editedAt7,
		},
		"detail value edited": {
			tamper: func(c *verifyCall) { c.entries[7].Details["spec.title"] = "Nothing stolen" },
			want:   editedAt7,
		},
		"detail key added": {
			tamper: func(c *verifyCall) { c.entries[7].Details["spec.severity"] = "Low" },
			want:   editedAt7,
		},
		"detail key removed": {
			tamper: func(c *verifyCall) { delete(c.entries[7].Details, "spec.assets") },
			want:   editedAt7,
		},
		"previous hash edited": {
			tamper: func(c *verifyCall) { c.entries[7].PreviousHash = c.entries[5].Hash },
			want:   &BrokenError{Sequence: 7, Reason: "previous hash is not the hash of entry 6"},
		},
		"sequence edited": {
			tamper: func(c *verifyCall) { c.entries[7].Sequence = 8 },
			want:   &BrokenError{Sequence: 7, Reason: "out of order: entry 8 stands in its place"},
		},
		"hash edited": {
			tamper: func(c *verifyCall) { c.entries[7].Hash = c.entries[6].Hash },
			want:   editedAt7,
		},
		"key id edited": {
			tamper: func(c *verifyCall) { c.entries[7].KeyID = newKey.ID },
			want:   &BrokenError{Sequence: 7, Reason: `signature does not verify with key "2026-07-01"`},
		},
		"signature edited": {
			tamper: func(c *verifyCall) { c.entries[7].Signature = c.entries[6].Signature },
			want:   &BrokenError{Sequence: 7, Reason: "signature does not verify"},
		},

		"middle entry removed": {
			tamper: func(c *verifyCall) { c.entries = slices.Delete(c.entries, 5, 6) },
			want:   &BrokenError{Sequence: 5, Reason: "missing, or out of order: entry 6 stands in its place"},
		},
		"first entry removed": {
			tamper: func(c *verifyCall) { c.entries = c.entries[1:] },
			want:   &BrokenError{Sequence: 0, Reason: "missing, or out of order: entry 1 stands in its place"},
		},
		"two entries swapped": {
			tamper: func(c *verifyCall) { c.entries[5], c.entries[6] = c.entries[6], c.entries[5] },
			want:   &BrokenError{Sequence: 5, Reason: "out of order"},
		},
		"entry inserted with a valid hash": {
			tamper: func(c *verifyCall) {
				forged := c.entries[4].DeepCopy()
				forged.Action = securityv1alpha1.AuditAcknowledged
				c.entries = slices.Insert(c.entries, 5, *forged)
				rechain(c.entries[:6], 5, rogueKey)
			},
			want: &BrokenError{Sequence: 5, Reason: "signature does not verify"},
		},
		"tail cut": {
			tamper: cutTail,
			want:   &BrokenError{Sequence: 17, Reason: "trail ends before the incident's head, entry 19"},
		},
		"all entries removed": {
			tamper: func(c *verifyCall) { c.entries = nil },
			want:   &BrokenError{Sequence: 0, Reason: "trail ends before the incident's head"},
		},
		"chain recomputed without the key": {
			tamper: recompute,
			want:   &BrokenError{Sequence: 3, Reason: "signature does not verify"},
		},
		"chain recomputed without the key, hashes only but with the head": {
			tamper: func(c *verifyCall) { recompute(c); c.opts.Keys = nil },
			want:   &BrokenError{Sequence: 19, Reason: "not the entry the incident's head names"},
		},
		"moved to another incident of the same name": {
			tamper: func(c *verifyCall) { c.subject.UID = "0b6c1f3e-later-incident" },
			want:   &BrokenError{Sequence: 0, Reason: "belongs to another subject"},
		},
		"moved to another namespace": {
			tamper: func(c *verifyCall) { c.namespace = "finance" },
			want:   &BrokenError{Sequence: 0, Reason: "belongs to another subject"},
		},
		"moved, hashes only": {
			tamper: func(c *verifyCall) { c.subject.UID = "0b6c1f3e-later-incident"; c.opts.Keys = nil; c.opts.Head = nil },
			want:   &BrokenError{Sequence: 0, Reason: "belongs to another subject"},
		},
		"signed with another key of the same id": {
			tamper: func(c *verifyCall) {
				e := &c.entries[12]
				e.Signature = signature(rogueKey, e.Sequence, e.Hash)
			},
			want: &BrokenError{Sequence: 12, Reason: `signature does not verify with key "2026-07-01"`},
		},
		"signed with a key the ring does not hold": {
			tamper: func(c *verifyCall) {
				other := Key{ID: "2027-01-01", Secret: rogueKey.Secret}
				e := &c.entries[12]
				e.KeyID, e.Signature = other.ID, signature(other, e.Sequence, e.Hash)
			},
			want: &BrokenError{Sequence: 12, Reason: `key "2027-01-01", which the key ring does not hold`},
		},
		"old key removed from the ring too soon": {
			tamper: func(c *verifyCall) { c.opts.Keys, _ = NewKeyRing(newKey) },
			want:   &BrokenError{Sequence: 0, Reason: `key "2026-01-01", which the key ring does not hold`},
		},
		"head with a forged signature, tail cut to it": {
			tamper: forgeHead,
			want:   &BrokenError{Sequence: 15, Reason: "the incident's head: signature does not verify"},
		},
		"head with a forged signature, hashes only": {
			tamper: func(c *verifyCall) { forgeHead(c); c.opts.Keys = nil },
			want:   &BrokenError{Sequence: 15, Reason: "not the entry the incident's head names"},
		},
		"entries after the head": {
			tamper: func(c *verifyCall) { c.opts.Head = headOf(&c.entries[17]) },
			want:   &BrokenError{Sequence: 18, Reason: "follows the incident's head, entry 17"},
		},
		"entry after Deleted, signed by the operator": {
			tamper: func(c *verifyCall) {
				chain := NewChain(c.namespace, c.subject, c.opts.Head)
				c.entries = append(c.entries, chain.Append(newKey, start.Add(1000*time.Hour), operator, securityv1alpha1.AuditNotified, nil))
				c.opts.Head = chain.Head()
			},
			want: &BrokenError{Sequence: 20, Reason: "follows the Deleted entry"},
		},
		"sealed trail without its Deleted entry": {
			tamper: func(c *verifyCall) {
				c.entries = c.entries[:19]
				c.opts.Head, c.opts.Sealed = nil, true
			},
			want: &BrokenError{Sequence: 19, Reason: "does not end with its Deleted entry"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c := fullCall(t)
			tt.tamper(c)
			_, err := c.run()
			checkBroken(t, err, tt.want)
		})
	}
}

// checkBroken holds err to want: nil, or a *BrokenError at want.Sequence
// whose reason contains want.Reason.
func checkBroken(t *testing.T, err error, want *BrokenError) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("Verify: %v, want no error", err)
		}
		return
	}
	var got *BrokenError
	if !errors.As(err, &got) {
		t.Fatalf("Verify: %v (%T), want a *BrokenError at entry %d", err, err, want.Sequence)
	}
	if got.Sequence != want.Sequence || !strings.Contains(got.Reason, want.Reason) {
		t.Fatalf("Verify: %v\nwant: entry %d: …%s…", err, want.Sequence, want.Reason)
	}
}

// What Verify cannot see without the head or the keys, shown by tampers the
// full check catches: each row passes weakened, and fails in full.
func TestVerifyBlindSpots(t *testing.T) {
	tests := map[string]struct {
		tamper func(c *verifyCall)
		weaken func(o *VerifyOptions)
		want   *BrokenError // in full
	}{
		// The entries alone do not say that more followed them.
		"tail cut, without the head": {
			tamper: cutTail,
			weaken: func(o *VerifyOptions) { o.Head = nil },
			want:   &BrokenError{Sequence: 17, Reason: "trail ends before the incident's head"},
		},
		// Anyone can compute SHA-256: without the key and the head a chain
		// rebuilt after an edit is as consistent as the original.
		"chain recomputed, without keys or head": {
			tamper: recompute,
			weaken: func(o *VerifyOptions) { o.Keys, o.Head = nil, nil },
			want:   &BrokenError{Sequence: 3, Reason: "signature does not verify"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c := fullCall(t)
			tt.tamper(c)
			full := c.opts
			tt.weaken(&c.opts)
			result, err := c.run()
			if err != nil {
				t.Fatalf("weakened: %v; the row no longer shows a blind spot", err)
			}
			if result.Entries != len(c.entries) {
				t.Errorf("weakened: %d entries verified, want %d", result.Entries, len(c.entries))
			}
			if result.SignaturesChecked != (c.opts.Keys != nil) {
				t.Errorf("weakened: SignaturesChecked is %t with keys %v", result.SignaturesChecked, c.opts.Keys)
			}
			c.opts = full
			_, err = c.run()
			checkBroken(t, err, tt.want)
		})
	}
}

func TestVerifyResult(t *testing.T) {
	c := fullCall(t)
	result, err := c.run()
	if err != nil {
		t.Fatal(err)
	}
	if result.Entries != 20 || !result.SignaturesChecked || *result.Head != *c.opts.Head {
		t.Errorf("Result %+v, head %+v; want 20 entries, signatures checked, head %+v", result, *result.Head, *c.opts.Head)
	}

	// A broken trail says how far it held.
	c.entries[12].Details["at"] = "noon"
	result, err = c.run()
	if err == nil || result.Entries != 12 || *result.Head != *headOf(&c.entries[11]) {
		t.Errorf("broken at 12: Result %+v, %v; want 12 entries ending at entry 11", result, err)
	}
}

func TestCheckHead(t *testing.T) {
	_, head := testChain(t)
	ring := testRing(t)
	if err := CheckHead(testNamespace, testSubject, head, ring); err != nil {
		t.Errorf("genuine head: %v", err)
	}
	if err := CheckHead(testNamespace, testSubject, head, nil); err == nil {
		t.Error("a head verifies without keys")
	}
	head.Sequence--
	if err := CheckHead(testNamespace, testSubject, head, ring); err == nil {
		t.Error("a head moved back verifies")
	}
}
