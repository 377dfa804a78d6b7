package audit

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// storedAndRead is entries as the API server stores them and a client reads
// them back: through JSON.
func storedAndRead(t *testing.T, entries []securityv1alpha1.AuditEntry) []securityv1alpha1.AuditEntry {
	t.Helper()
	b, err := json.Marshal(entries)
	if err != nil {
		t.Fatal(err)
	}
	var read []securityv1alpha1.AuditEntry
	if err := json.Unmarshal(b, &read); err != nil {
		t.Fatal(err)
	}
	return read
}

func TestJSONRoundTripVerifies(t *testing.T) {
	entries, head := testChain(t)
	read := storedAndRead(t, entries)
	if _, err := Verify(testNamespace, testSubject, read, VerifyOptions{Keys: testRing(t), Head: &head, Sealed: true}); err != nil {
		t.Fatalf("the trail read back from JSON: %v", err)
	}
	// start has nanoseconds; what Append keeps is what JSON keeps.
	for i := range entries {
		if !entries[i].Time.Equal(&read[i].Time) {
			t.Errorf("entry %d: Append kept time %s, JSON gives back %s", i, entries[i].Time.Format(time.RFC3339Nano), read[i].Time.Format(time.RFC3339Nano))
		}
	}
	if got := entries[0].Time.Nanosecond(); got != 123456000 {
		t.Errorf("entry 0 keeps %d ns, want 123456000 (whole microseconds)", got)
	}
}

func TestAppendKeepsLimits(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	manyDetails := map[string]string{}
	for i := range 20 {
		manyDetails[fmt.Sprintf("field%02d", i)] = strconv.Itoa(i)
	}
	manyDetails[OmittedDetail] = "caller's own"
	manyGroups := make([]string, 70)
	for i := range manyGroups {
		manyGroups[i] = "group-" + strconv.Itoa(i)
	}
	tests := map[string]struct {
		actor   securityv1alpha1.AuditActor
		details map[string]string
		check   func(t *testing.T, e securityv1alpha1.AuditEntry)
	}{
		"a long detail value is cut at a character": {
			details: map[string]string{"description": long},
			check: func(t *testing.T, e securityv1alpha1.AuditEntry) {
				got := e.Details["description"]
				if len(got) > MaxDetailLength || !strings.HasSuffix(got, cutMark) || !utf8.ValidString(got) || !strings.HasPrefix(long, strings.TrimSuffix(got, cutMark)) {
					t.Errorf("description cut to %d bytes %q", len(got), got)
				}
			},
		},
		"a value at the limit is kept": {
			details: map[string]string{"description": strings.Repeat("a", MaxDetailLength)},
			check: func(t *testing.T, e securityv1alpha1.AuditEntry) {
				if e.Details["description"] != strings.Repeat("a", MaxDetailLength) {
					t.Errorf("description changed to %q", e.Details["description"])
				}
			},
		},
		"details beyond the limit are named under omitted": {
			details: manyDetails,
			check: func(t *testing.T, e securityv1alpha1.AuditEntry) {
				keys := slices.Sorted(maps.Keys(e.Details))
				want := []string{"field00", "field01", "field02", "field03", "field04", "field05", "field06", "field07", "field08", "field09", "field10", "field11", "field12", "field13", "field14", OmittedDetail}
				if !slices.Equal(keys, want) {
					t.Errorf("details %v, want %v", keys, want)
				}
				if got := e.Details[OmittedDetail]; got != "field15,field16,field17,field18,field19,omitted" {
					t.Errorf("omitted %q", got)
				}
			},
		},
		"invalid UTF-8 is stored as JSON stores it": {
			actor:   securityv1alpha1.AuditActor{Username: "bad\xffname", Groups: []string{"\xfe\xfd"}},
			details: map[string]string{"key\xc3": "value\xe2\x82"},
			check: func(t *testing.T, e securityv1alpha1.AuditEntry) {
				if e.Actor.Username != "bad\uFFFDname" || e.Actor.Groups[0] != "\uFFFD\uFFFD" || e.Details["key\uFFFD"] != "value\uFFFD\uFFFD" {
					t.Errorf("stored %q %q %q", e.Actor.Username, e.Actor.Groups, e.Details)
				}
			},
		},
		"a long username and groups are cut, groups beyond 64 dropped": {
			actor: securityv1alpha1.AuditActor{Username: strings.Repeat("u", 600), Groups: append(manyGroups, strings.Repeat("g", 600))},
			check: func(t *testing.T, e securityv1alpha1.AuditEntry) {
				if len(e.Actor.Username) != maxActorString || len(e.Actor.Groups) != maxGroups || e.Actor.Groups[63] != "group-63" {
					t.Errorf("username of %d bytes, %d groups ending %q", len(e.Actor.Username), len(e.Actor.Groups), e.Actor.Groups[len(e.Actor.Groups)-1])
				}
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c := NewChain(testNamespace, testSubject, nil)
			e := c.Append(newKey, start, tt.actor, securityv1alpha1.AuditChanged, tt.details)
			tt.check(t, e)
			// What was cut is what was hashed, and stays so in storage.
			head := c.Head()
			if _, err := Verify(testNamespace, testSubject, storedAndRead(t, []securityv1alpha1.AuditEntry{e}), VerifyOptions{Keys: testRing(t), Head: head}); err != nil {
				t.Errorf("read back: %v", err)
			}
		})
	}
}

// The entry does not share the caller's slices or maps: changing them after
// Append does not change the entry.
func TestAppendCopies(t *testing.T) {
	actor := securityv1alpha1.AuditActor{Username: "alice", Groups: []string{"a"}}
	details := map[string]string{"k": "v"}
	c := NewChain(testNamespace, testSubject, nil)
	e := c.Append(newKey, start, actor, securityv1alpha1.AuditChanged, details)
	actor.Groups[0], details["k"] = "b", "w"
	if _, err := Verify(testNamespace, testSubject, []securityv1alpha1.AuditEntry{e}, VerifyOptions{Keys: testRing(t)}); err != nil {
		t.Error(err)
	}
}

// A chain continued after a head, as the operator does on each reconcile,
// is the chain made in one go.
func TestNewChainContinuesAfterHead(t *testing.T) {
	whole, head := testChain(t)
	c := NewChain(testNamespace, testSubject, nil)
	at := start
	for i, s := range life {
		if i == 12 {
			c = NewChain(testNamespace, testSubject, c.Head())
		}
		at = at.Add(s.after)
		if e := c.Append(keyFor(i), at, s.actor, s.action, s.details); e.Hash != whole[i].Hash {
			t.Fatalf("entry %d: hash %s, want %s", i, e.Hash, whole[i].Hash)
		}
	}
	if *c.Head() != head {
		t.Errorf("continued chain ends at %+v, want %+v", *c.Head(), head)
	}
	if NewChain(testNamespace, testSubject, nil).Head() != nil {
		t.Error("an empty chain has a head")
	}
}

func TestKeyRing(t *testing.T) {
	secret := []byte(strings.Repeat("s", MinKeySize))
	tests := map[string]struct {
		data    map[string][]byte
		signing string
		err     string
	}{
		"the id that sorts last signs": {
			data:    map[string][]byte{"2026-07-01": secret, "2025-12-01": secret, "2026-01-01": secret},
			signing: "2026-07-01",
		},
		"one key": {data: map[string][]byte{"k": secret}, signing: "k"},
		"a short secret is named": {
			data: map[string][]byte{"2026-01-01": secret, "2026-07-01": secret[:31]},
			err:  `audit key "2026-07-01" is 31 bytes long; it must be at least 32`,
		},
		"an id too long for KeyID": {
			data: map[string][]byte{strings.Repeat("k", 64): secret},
			err:  "must be 1 to 63 characters long",
		},
		"no keys": {data: map[string][]byte{}, err: "no audit signing keys"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ring, err := KeyRingFromSecret(tt.data)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ring.Signing().ID; got != tt.signing {
				t.Errorf("signing with %q, want %q", got, tt.signing)
			}
		})
	}
}

// A key ring holds a copy: the Secret's data changed later does not change
// what it verifies.
func TestKeyRingCopiesSecrets(t *testing.T) {
	data := map[string][]byte{newKey.ID: slices.Clone(newKey.Secret)}
	ring, err := KeyRingFromSecret(data)
	if err != nil {
		t.Fatal(err)
	}
	data[newKey.ID][0] = 'x'
	c := NewChain(testNamespace, testSubject, nil)
	c.Append(newKey, start, alice, securityv1alpha1.AuditReported, nil)
	if err := CheckHead(testNamespace, testSubject, *c.Head(), ring); err != nil {
		t.Error(err)
	}
}

// No way of printing a key or a ring shows a secret.
func TestKeysDoNotPrintSecrets(t *testing.T) {
	secret := Key{ID: "k", Secret: []byte("SECRETSECRETSECRETSECRETSECRETSE")}
	ring, err := NewKeyRing(secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q"} {
		for _, v := range []any{secret, &secret, ring, *ring, []Key{secret}} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, "SECRET") || strings.Contains(out, "83 69 67") || strings.Contains(out, "534543") {
				t.Errorf("%s of %T shows the secret: %s", verb, v, out)
			}
		}
	}
}
