package audit

import (
	"bytes"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// signedWith is the head of a one-entry trail of subject signed with key.
func signedWith(key Key, where string, subject securityv1alpha1.AuditSubject) SignedHead {
	c := NewChain(testNamespace, subject, nil)
	c.Append(key, start, alice, securityv1alpha1.AuditReported, nil)
	return SignedHead{Where: where, Namespace: testNamespace, Subject: subject, Head: *c.Head()}
}

func secretOf(keys ...Key) map[string][]byte {
	data := map[string][]byte{}
	for _, k := range keys {
		data[k.ID] = k.Secret
	}
	return data
}

func TestDecideKeys(t *testing.T) {
	other := securityv1alpha1.AuditSubject{Kind: "Incident", Name: "phishing", UID: "0b6d3f0e-5a0e-4c55-a1d5-1e0f3f2f7c01"}
	byOld := signedWith(oldKey, "incident security/laptop-stolen", testSubject)
	byNew := signedWith(newKey, "incident security/phishing", other)
	forged := signedWith(rogueKey, "incident security/forged", other)
	tests := map[string]struct {
		in      KeyEvidence
		action  KeyAction
		signing string
		// reason holds, in order, what the reason must say.
		reason []string
	}{
		"a first install creates the key": {
			in:     KeyEvidence{},
			action: CreateKey,
		},
		"a missing Secret is not made again once trails exist": {
			in:     KeyEvidence{TrailsExist: true},
			action: WithholdSigning,
			reason: []string{"Secret operator/audit-key is missing, and audit trails exist", "Restore the Secret from your backup", RetiredKeysAnnotation},
		},
		"a missing Secret names a head it signed": {
			in:     KeyEvidence{TrailsExist: true, Signed: []SignedHead{byOld}},
			action: WithholdSigning,
			reason: []string{`incident security/laptop-stolen was signed with key "2026-01-01"`},
		},
		"an incident's head is a trail, even if no trail is listed": {
			in:     KeyEvidence{Signed: []SignedHead{byOld}},
			action: WithholdSigning,
			reason: []string{"is missing"},
		},
		"the Secret that signed is used": {
			in:      KeyEvidence{Found: true, Data: secretOf(oldKey), TrailsExist: true, Signed: []SignedHead{byOld}},
			action:  UseKeys,
			signing: oldKey.ID,
		},
		"a Secret made before any trail is used": {
			in:      KeyEvidence{Found: true, Data: secretOf(newKey)},
			action:  UseKeys,
			signing: newKey.ID,
		},
		"rotation: the added key signs and the old one still verifies": {
			in:      KeyEvidence{Found: true, Data: secretOf(oldKey, newKey), TrailsExist: true, Signed: []SignedHead{byOld, byNew}},
			action:  UseKeys,
			signing: newKey.ID,
		},
		"a key removed while trails use it": {
			in:     KeyEvidence{Found: true, Data: secretOf(newKey), TrailsExist: true, Signed: []SignedHead{byOld, byNew}},
			action: WithholdSigning,
			reason: []string{`does not hold key "2026-01-01", which signed incident security/laptop-stolen`, "Put the key back", RetiredKeysAnnotation},
		},
		"a key removed and retired on purpose": {
			in:      KeyEvidence{Found: true, Data: secretOf(newKey), Retired: []string{oldKey.ID}, TrailsExist: true, Signed: []SignedHead{byOld, byNew}},
			action:  UseKeys,
			signing: newKey.ID,
		},
		"a key made again under the same id": {
			in:     KeyEvidence{Found: true, Data: secretOf(rogueKey), TrailsExist: true, Signed: []SignedHead{byNew}},
			action: WithholdSigning,
			reason: []string{`key "2026-07-01" of the audit signing key Secret operator/audit-key does not verify incident security/phishing`, "Restore the key from your backup"},
		},
		"one forged head among heads that verify": {
			in:      KeyEvidence{Found: true, Data: secretOf(newKey), TrailsExist: true, Signed: []SignedHead{forged, byNew}},
			action:  UseKeys,
			signing: newKey.ID,
		},
		"a retired id held again": {
			in:     KeyEvidence{Found: true, Data: secretOf(oldKey, newKey), Retired: []string{oldKey.ID}, TrailsExist: true},
			action: WithholdSigning,
			reason: []string{`holds key "2026-01-01" and names it as retired`},
		},
		"an empty Secret": {
			in:     KeyEvidence{Found: true, Data: map[string][]byte{}},
			action: WithholdSigning,
			reason: []string{"cannot be used: no audit signing keys"},
		},
		"a short key": {
			in:     KeyEvidence{Found: true, Data: map[string][]byte{"k": []byte("short")}, TrailsExist: true},
			action: WithholdSigning,
			reason: []string{`audit key "k" is 5 bytes long`},
		},
		"many heads are counted, not all named": {
			in: KeyEvidence{Found: true, Data: secretOf(newKey), TrailsExist: true, Signed: []SignedHead{
				signedWith(oldKey, "a", other), signedWith(oldKey, "b", other), signedWith(oldKey, "c", other), signedWith(oldKey, "d", other),
			}},
			action: WithholdSigning,
			reason: []string{"which signed a, b, c and 1 more:"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			tt.in.Secret = "operator/audit-key"
			got := DecideKeys(tt.in)
			if got.Action != tt.action {
				t.Fatalf("action %d, want %d (reason %q)", got.Action, tt.action, got.Reason)
			}
			if tt.action == UseKeys {
				if got.Keys == nil || got.Keys.Signing().ID != tt.signing {
					t.Errorf("signing with %v, want %s", got.Keys, tt.signing)
				}
				for _, s := range tt.in.Signed {
					if s.Where != forged.Where && !slices.Contains(tt.in.Retired, s.Head.KeyID) {
						if err := CheckHead(s.Namespace, s.Subject, s.Head, got.Keys); err != nil {
							t.Errorf("%s does not verify with the keys used: %v", s.Where, err)
						}
					}
				}
			}
			rest := got.Reason
			for _, want := range tt.reason {
				i := strings.Index(rest, want)
				if i < 0 {
					t.Fatalf("reason %q does not say %q after what came before", got.Reason, want)
				}
				rest = rest[i+len(want):]
			}
		})
	}
}

func TestRetiredKeys(t *testing.T) {
	got := RetiredKeys(map[string]string{RetiredKeysAnnotation: " k1, ,2026-01-01 "})
	if strings.Join(got, "|") != "k1|2026-01-01" {
		t.Errorf("retired %q", got)
	}
	if got := RetiredKeys(nil); got != nil {
		t.Errorf("retired %q without the annotation", got)
	}
}

// A new key's id is new: a later day sorts later, so the new key signs
// after those made before it, and keys made the same day differ.
func TestNewKey(t *testing.T) {
	day := time.Date(2026, 7, 1, 23, 30, 0, 0, time.FixedZone("UTC-2", -2*3600))
	key, err := NewKey(day, bytes.NewReader(bytes.Repeat([]byte{0x9f}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	if key.ID != "key-2026-07-02-9f9f9f9f" || len(key.Secret) != MinKeySize {
		t.Errorf("key %s with a %d-byte secret, want key-2026-07-02-9f9f9f9f (the day in UTC) with %d bytes", key.ID, len(key.Secret), MinKeySize)
	}
	a, _ := NewKey(day, rand.Reader)
	b, _ := NewKey(day, rand.Reader)
	later, _ := NewKey(day.AddDate(0, 0, 1), rand.Reader)
	if a.ID == b.ID || bytes.Equal(a.Secret, b.Secret) {
		t.Errorf("two keys made the same day share an id or a secret: %s, %s", a.ID, b.ID)
	}
	if later.ID <= a.ID || later.ID <= b.ID {
		t.Errorf("a key made a day later, %s, does not sort after %s and %s", later.ID, a.ID, b.ID)
	}
	// It sorts after the id the operator once gave every first key, so
	// that adding one rotates.
	if later.ID <= "k1" {
		t.Errorf("%s sorts before k1", later.ID)
	}
	if _, err := NewKey(day, bytes.NewReader(nil)); err == nil {
		t.Error("a key made without randomness")
	}
	if _, err := NewKeyRing(key); err != nil {
		t.Errorf("a new key does not make a ring: %v", err)
	}
}

// A ring withholds signing until it is given keys again; it verifies with
// the keys it holds meanwhile. The zero ring withholds.
func TestKeyRingWithhold(t *testing.T) {
	var zero KeyRing
	if _, err := zero.SigningKey(); !errors.Is(err, ErrSigningWithheld) {
		t.Errorf("the zero ring signs: %v", err)
	}
	ring := testRing(t)
	head := signedWith(oldKey, "", testSubject)
	ring.Withhold(errors.New("the Secret is missing"))
	if _, err := ring.SigningKey(); !errors.Is(err, ErrSigningWithheld) || !strings.Contains(err.Error(), "audit signing withheld: the Secret is missing") {
		t.Errorf("signing while withheld: %v", err)
	}
	if err := CheckHead(head.Namespace, head.Subject, head.Head, ring); err != nil {
		t.Errorf("a withholding ring no longer verifies: %v", err)
	}
	if s := ring.String(); !strings.Contains(s, "withholding signing") {
		t.Errorf("a withholding ring prints as %q", s)
	}
	restored, err := NewKeyRing(oldKey, newKey, Key{ID: "2027-01-01", Secret: bytes.Repeat([]byte("x"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	ring.Replace(restored)
	key, err := ring.SigningKey()
	if err != nil || key.ID != "2027-01-01" {
		t.Errorf("after Replace, signing with %s: %v", key, err)
	}
	if got := strings.Join(ring.IDs(), ","); got != "2026-01-01,2026-07-01,2027-01-01" {
		t.Errorf("ids %s", got)
	}
}
