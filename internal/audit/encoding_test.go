package audit

import (
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// leafFields names the fields of typ, descending into structs of the same
// package, as "Actor.Username".
func leafFields(typ reflect.Type, prefix string) []string {
	var names []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == typ.PkgPath() {
			names = append(names, leafFields(f.Type, prefix+f.Name+".")...)
			continue
		}
		names = append(names, prefix+f.Name)
	}
	return names
}

// checkCovered fails unless each field of typ is either edited by a test or
// named as excluded, so that a field added to the API later has to be put
// on one side or the other.
func checkCovered(t *testing.T, typ reflect.Type, edited []string, excluded ...string) {
	t.Helper()
	fields := leafFields(typ, "")
	slices.Sort(fields)
	covered := slices.Sorted(slices.Values(append(edited, excluded...)))
	if !slices.Equal(fields, covered) {
		t.Errorf("%s has fields %v; the test edits or excludes %v", typ.Name(), fields, covered)
	}
}

// Every field of an entry but Hash, KeyID and Signature changes its hash.
// KeyID and Signature are held by the signature (TestSignatureCoversHead).
func TestHashCoversEveryField(t *testing.T) {
	edits := map[string]func(e *securityv1alpha1.AuditEntry){
		"Sequence":       func(e *securityv1alpha1.AuditEntry) { e.Sequence++ },
		"Time":           func(e *securityv1alpha1.AuditEntry) { e.Time.Time = e.Time.Add(time.Microsecond) },
		"Actor.Operator": func(e *securityv1alpha1.AuditEntry) { e.Actor.Operator = !e.Actor.Operator },
		"Actor.Username": func(e *securityv1alpha1.AuditEntry) { e.Actor.Username += "x" },
		"Actor.Groups":   func(e *securityv1alpha1.AuditEntry) { e.Actor.Groups = e.Actor.Groups[1:] },
		"Action":         func(e *securityv1alpha1.AuditEntry) { e.Action = securityv1alpha1.AuditResolved },
		"Details":        func(e *securityv1alpha1.AuditEntry) { e.Details["spec.title"] += "!" },
		"PreviousHash":   func(e *securityv1alpha1.AuditEntry) { e.PreviousHash = e.Hash },
	}
	checkCovered(t, reflect.TypeFor[securityv1alpha1.AuditEntry](), slices.Collect(maps.Keys(edits)), "Hash", "KeyID", "Signature")
	entries, _ := testChain(t)
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			e := entries[7].DeepCopy()
			edit(e)
			if Hash(testNamespace, testSubject, *e) == entries[7].Hash {
				t.Errorf("editing %s leaves the hash as it was", name)
			}
		})
	}
}

// Every field of a head but the signature itself changes the signature, and
// so do the trail's namespace and subject.
func TestSignatureCoversHead(t *testing.T) {
	edits := map[string]func(h *securityv1alpha1.AuditHead){
		"Sequence": func(h *securityv1alpha1.AuditHead) { h.Sequence++ },
		"Hash":     func(h *securityv1alpha1.AuditHead) { h.Hash = Genesis(testNamespace, testSubject) },
		"KeyID":    func(h *securityv1alpha1.AuditHead) { h.KeyID = oldKey.ID },
	}
	checkCovered(t, reflect.TypeFor[securityv1alpha1.AuditHead](), slices.Collect(maps.Keys(edits)), "Signature")
	_, head := testChain(t)
	ring := testRing(t)
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			h := head
			edit(&h)
			if CheckHead(testNamespace, testSubject, h, ring) == nil {
				t.Errorf("editing %s leaves the signature valid", name)
			}
		})
	}
	for name, edit := range trailEdits {
		t.Run(name, func(t *testing.T) {
			namespace, subject := testNamespace, testSubject
			edit(&namespace, &subject)
			if CheckHead(namespace, subject, head, ring) == nil {
				t.Errorf("the head verifies for another trail (%s edited)", name)
			}
		})
	}
}

// trailEdits change what a trail is about.
var trailEdits = map[string]func(namespace *string, s *securityv1alpha1.AuditSubject){
	"Namespace": func(n *string, _ *securityv1alpha1.AuditSubject) { *n = "finance" },
	"Kind":      func(_ *string, s *securityv1alpha1.AuditSubject) { s.Kind = "Evidence" },
	"Name":      func(_ *string, s *securityv1alpha1.AuditSubject) { s.Name = "phone-stolen" },
	"UID":       func(_ *string, s *securityv1alpha1.AuditSubject) { s.UID = "0b6c1f3e-later-incident" },
}

// The genesis and every hash change with the trail's namespace and subject.
func TestTrailCoversSubject(t *testing.T) {
	checkCovered(t, reflect.TypeFor[securityv1alpha1.AuditSubject](), slices.DeleteFunc(slices.Collect(maps.Keys(trailEdits)), func(f string) bool { return f == "Namespace" }))
	entries, _ := testChain(t)
	for name, edit := range trailEdits {
		t.Run(name, func(t *testing.T) {
			namespace, subject := testNamespace, testSubject
			edit(&namespace, &subject)
			if Genesis(namespace, subject) == entries[0].PreviousHash {
				t.Errorf("another %s has the same genesis", name)
			}
			if Hash(namespace, subject, entries[7]) == entries[7].Hash {
				t.Errorf("another %s gives entry 7 the same hash", name)
			}
		})
	}
}

// Where one field ends and the next begins is part of what is hashed.
func TestEncodingIsPrefixFree(t *testing.T) {
	tests := map[string]struct {
		a, b func(e *securityv1alpha1.AuditEntry)
	}{
		"username and groups": {
			a: func(e *securityv1alpha1.AuditEntry) { e.Actor.Username, e.Actor.Groups = "ab", []string{"c"} },
			b: func(e *securityv1alpha1.AuditEntry) { e.Actor.Username, e.Actor.Groups = "a", []string{"bc"} },
		},
		"group boundaries": {
			a: func(e *securityv1alpha1.AuditEntry) { e.Actor.Groups = []string{"ab", "c"} },
			b: func(e *securityv1alpha1.AuditEntry) { e.Actor.Groups = []string{"a", "bc"} },
		},
		"detail key and value": {
			a: func(e *securityv1alpha1.AuditEntry) { e.Details = map[string]string{"ab": "c"} },
			b: func(e *securityv1alpha1.AuditEntry) { e.Details = map[string]string{"a": "bc"} },
		},
		"details and previous hash": {
			a: func(e *securityv1alpha1.AuditEntry) { e.Details, e.PreviousHash = map[string]string{"a": "b"}, "c" },
			b: func(e *securityv1alpha1.AuditEntry) { e.Details, e.PreviousHash = map[string]string{"a": "bc"}, "" },
		},
		"action and details": {
			a: func(e *securityv1alpha1.AuditEntry) { e.Action, e.Details = "Changed", nil },
			b: func(e *securityv1alpha1.AuditEntry) { e.Action, e.Details = "Change", map[string]string{"d": ""} },
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var a, b securityv1alpha1.AuditEntry
			tt.a(&a)
			tt.b(&b)
			if Hash(testNamespace, testSubject, a) == Hash(testNamespace, testSubject, b) {
				t.Error("two different entries hash alike")
			}
		})
	}
	// The same for the subject: name "ab" with uid "c" is not name "a"
	// with uid "bc".
	if Genesis("ns", securityv1alpha1.AuditSubject{Kind: "Incident", Name: "ab", UID: "c"}) ==
		Genesis("ns", securityv1alpha1.AuditSubject{Kind: "Incident", Name: "a", UID: "bc"}) {
		t.Error("two different subjects have the same genesis")
	}
}

// Nothing the API server may do to an entry it stores changes its hash: a
// nil list or map is an empty one, and the time's location does not count.
func TestHashIgnoresHowAnEntryIsHeld(t *testing.T) {
	entries, _ := testChain(t)
	e := entries[10].DeepCopy() // no details, nil
	e.Details = map[string]string{}
	e.Time.Time = e.Time.In(time.FixedZone("CEST", 2*60*60))
	if Hash(testNamespace, testSubject, *e) != entries[10].Hash {
		t.Error("an empty map or another time zone changes the hash")
	}
	e.Actor.Groups = nil
	other := e.DeepCopy()
	other.Actor.Groups = []string{}
	if Hash(testNamespace, testSubject, *e) != Hash(testNamespace, testSubject, *other) {
		t.Error("nil and empty groups hash apart")
	}
}
