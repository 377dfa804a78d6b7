package audit

import (
	"bytes"
	"testing"
	"time"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

const testNamespace = "security"

var (
	testSubject = securityv1alpha1.AuditSubject{Kind: "Incident", Name: "laptop-stolen", UID: "7d7c8a52-1f0b-4f57-9c3e-2b1d0c6f9a11"}

	// The chain is signed first with oldKey, then with newKey: a rotation.
	oldKey = Key{ID: "2026-01-01", Secret: bytes.Repeat([]byte("o"), 32)}
	newKey = Key{ID: "2026-07-01", Secret: bytes.Repeat([]byte("n"), 32)}
	// rogueKey has newKey's id and another secret: what someone who can
	// write the trail but not read the key would sign with.
	rogueKey = Key{ID: newKey.ID, Secret: bytes.Repeat([]byte("r"), 32)}

	alice    = securityv1alpha1.AuditActor{Username: "alice@example.org", Groups: []string{"security-team", "system:authenticated"}}
	bob      = securityv1alpha1.AuditActor{Username: "bob", Groups: []string{"it-desk"}}
	operator = securityv1alpha1.AuditActor{Operator: true}
	// nobody is the actor of a change the operator did not see being made.
	nobody = securityv1alpha1.AuditActor{}
)

// step is one entry to append, after the entry before by `after`.
type step struct {
	after   time.Duration
	actor   securityv1alpha1.AuditActor
	action  securityv1alpha1.AuditAction
	details map[string]string
}

// life is an incident's life in 20 entries, ending with its deletion.
// Entry 7 has every kind of field set, for the tamper tests.
var life = []step{
	{0, alice, securityv1alpha1.AuditReported, map[string]string{"severity": "High", "title": "Laptop stolen from car"}},
	{time.Second, operator, securityv1alpha1.AuditRouted, map[string]string{"policies": "data-breach/4,it-desk/2"}},
	{2 * time.Second, operator, securityv1alpha1.AuditNotified, map[string]string{"receiver": "desk", "channel": "email", "key": "a1b2c3"}},
	{3 * time.Second, operator, securityv1alpha1.AuditNotificationFailed, map[string]string{"receiver": "hook", "error": "503 Service Unavailable"}},
	{30 * time.Second, operator, securityv1alpha1.AuditNotified, map[string]string{"receiver": "hook", "channel": "webhook", "attempt": "2"}},
	{time.Minute, bob, securityv1alpha1.AuditChanged, map[string]string{"spec.severity": "High → Critical"}},
	{90 * time.Second, nobody, securityv1alpha1.AuditChangeNotObserved, map[string]string{"generations": "4,5"}},
	{2 * time.Minute, alice, securityv1alpha1.AuditChanged, map[string]string{"spec.assets": "laptop-17 → laptop-17,phone-3", "spec.title": "Laptop stolen → Laptop and phone stolen"}},
	{15 * time.Minute, operator, securityv1alpha1.AuditEscalated, map[string]string{"level": "1"}},
	{20 * time.Minute, operator, securityv1alpha1.AuditSLAAtRisk, map[string]string{"deadline": "acknowledge", "at": "2026-03-02T13:15:00Z"}},
	{25 * time.Minute, bob, securityv1alpha1.AuditAcknowledged, nil},
	{time.Hour, alice, securityv1alpha1.AuditForensicInvestigation, map[string]string{}},
	{2 * time.Hour, bob, securityv1alpha1.AuditEvidenceAdded, map[string]string{"evidence": "disk-image", "uid": "0c1d", "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}},
	{3 * time.Hour, alice, securityv1alpha1.AuditCustodyTransferred, map[string]string{"evidence": "disk-image", "from": "bob", "to": "forensics-lab"}},
	{4 * time.Hour, alice, securityv1alpha1.AuditLegalHoldPlaced, map[string]string{"reason": "litigation 2026-17"}},
	{48 * time.Hour, alice, securityv1alpha1.AuditAuthorityNotified, map[string]string{"authority": "ICO", "reference": "IC-1234"}},
	{72 * time.Hour, operator, securityv1alpha1.AuditAuthorityDeadlineMissed, map[string]string{"deadline": "2026-03-05T09:15:00Z"}},
	{96 * time.Hour, bob, securityv1alpha1.AuditResolved, map[string]string{"resolution": "devices wiped remotely"}},
	{200 * time.Hour, alice, securityv1alpha1.AuditLegalHoldReleased, nil},
	{400 * time.Hour, securityv1alpha1.AuditActor{Username: "system:serviceaccount:incident-system:janitor"}, securityv1alpha1.AuditDeleted, nil},
}

// start has nanoseconds, which the stored time does not keep.
var start = time.Date(2026, 3, 2, 9, 15, 0, 123456789, time.UTC)

// testRing verifies both keys the chain is signed with.
func testRing(t testing.TB) *KeyRing {
	t.Helper()
	ring, err := NewKeyRing(oldKey, newKey)
	if err != nil {
		t.Fatal(err)
	}
	return ring
}

// testChain is life appended in order; the first half is signed with
// oldKey, the rest with newKey.
func testChain(t testing.TB) ([]securityv1alpha1.AuditEntry, securityv1alpha1.AuditHead) {
	t.Helper()
	c := NewChain(testNamespace, testSubject, nil)
	entries := make([]securityv1alpha1.AuditEntry, len(life))
	at := start
	for i, s := range life {
		at = at.Add(s.after)
		entries[i] = c.Append(keyFor(i), at, s.actor, s.action, s.details)
	}
	return entries, *c.Head()
}

// keyFor is the key entry i of the test chain is signed with.
func keyFor(i int) Key {
	if i < len(life)/2 {
		return oldKey
	}
	return newKey
}

// longChain has n entries, for segments.
func longChain(n int) ([]securityv1alpha1.AuditEntry, securityv1alpha1.AuditHead) {
	c := NewChain(testNamespace, testSubject, nil)
	entries := make([]securityv1alpha1.AuditEntry, n)
	for i := range entries {
		s := life[i%(len(life)-1)] // never Deleted
		entries[i] = c.Append(newKey, start.Add(time.Duration(i)*time.Second), s.actor, s.action, s.details)
	}
	return entries, *c.Head()
}

// rechain recomputes the chain from entry `from` on, signing with key, as
// someone who can write the trail could after editing it.
func rechain(entries []securityv1alpha1.AuditEntry, from int, key Key) {
	t := trail{namespace: testNamespace, subject: testSubject}
	for i := from; i < len(entries); i++ {
		e := &entries[i]
		e.Sequence = int64(i)
		e.PreviousHash = t.genesis()
		if i > 0 {
			e.PreviousHash = entries[i-1].Hash
		}
		e.Hash = Hash(testNamespace, testSubject, *e)
		e.KeyID = key.ID
		e.Signature = signature(key, e.Sequence, e.Hash)
	}
}

func clone(entries []securityv1alpha1.AuditEntry) []securityv1alpha1.AuditEntry {
	out := make([]securityv1alpha1.AuditEntry, len(entries))
	for i := range entries {
		entries[i].DeepCopyInto(&out[i])
	}
	return out
}

// signature is what key signs for the test trail's head.
func signature(key Key, sequence int64, hash string) string {
	var e encoder
	h := trail{testNamespace, testSubject}.sign(&e, key, sequence, hash)
	return string(h[:])
}
