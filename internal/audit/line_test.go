package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

func TestLine(t *testing.T) {
	entries, _ := testChain(t)
	line, err := Line(testNamespace, testSubject, entries[7])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(line, []byte("}\n")) || bytes.Count(line, []byte("\n")) != 1 {
		t.Errorf("not one JSON line: %q", line)
	}
	var r Record
	if err := json.Unmarshal(line, &r); err != nil {
		t.Fatal(err)
	}
	if r.Namespace != testNamespace || r.Subject != testSubject || Hash(r.Namespace, r.Subject, r.Entry) != entries[7].Hash {
		t.Errorf("line reads back as %+v", r)
	}
}

// streamLine is one line a sink receives and what Accept must say of it.
type streamLine struct {
	what   string
	line   []byte
	repeat bool
	broken *BrokenError // nil: accepted
	err    bool         // an error that is not a *BrokenError
}

// A sink receives the lines of two incidents interleaved, with the
// repeats, gaps and forgeries it must tell apart.
func TestStream(t *testing.T) {
	entries, _ := testChain(t)
	other := securityv1alpha1.AuditSubject{Kind: "Incident", Name: "phishing", UID: "5e0f"}
	otherChain := NewChain(testNamespace, other, nil)
	otherEntries := []securityv1alpha1.AuditEntry{
		otherChain.Append(newKey, start, bob, securityv1alpha1.AuditReported, nil),
		otherChain.Append(newKey, start, operator, securityv1alpha1.AuditRouted, nil),
	}
	line := func(subject securityv1alpha1.AuditSubject, e securityv1alpha1.AuditEntry) []byte {
		b, err := Line(testNamespace, subject, e)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ours := func(i int) []byte { return line(testSubject, entries[i]) }
	edited := entries[2].DeepCopy()
	edited.Details["receiver"] = "nobody"
	forged := clone(entries[:3])
	forged[2].Details["receiver"] = "nobody"
	rechain(forged, 2, rogueKey)

	script := []streamLine{
		{what: "a trail that does not begin at 0", line: ours(1), broken: &BrokenError{Sequence: 0, Reason: "entry 1 stands in its place"}},
		{what: "entry 0", line: ours(0)},
		{what: "another incident's entry 0", line: line(other, otherEntries[0])},
		{what: "entry 1", line: ours(1)},
		{what: "entry 1 again", line: ours(1), repeat: true},
		{what: "entry 0 again", line: ours(0), repeat: true},
		{what: "entry 3 before 2", line: ours(3), broken: &BrokenError{Sequence: 2, Reason: "entry 3 stands in its place"}},
		{what: "entry 2 edited", line: line(testSubject, *edited), broken: &BrokenError{Sequence: 2, Reason: "hash does not match"}},
		{what: "the other incident's entry 1", line: line(other, otherEntries[1])},
		{what: "entry 2", line: ours(2)},
		{what: "entry 2 forked, re-signed without the key", line: line(testSubject, forged[2]), repeat: true, broken: &BrokenError{Sequence: 2, Reason: "signature does not verify"}},
		{what: "entry 3", line: ours(3)},
		{what: "not JSON", line: []byte("{\"namespace\":"), err: true},
	}
	stream := NewStream(testRing(t))
	for _, step := range script {
		_, repeat, err := stream.Accept(step.line)
		if step.err {
			var b *BrokenError
			if err == nil || errors.As(err, &b) {
				t.Errorf("%s: %v, want an error that is not a broken chain", step.what, err)
			}
			continue
		}
		if repeat != step.repeat {
			t.Errorf("%s: repeat %t, want %t", step.what, repeat, step.repeat)
		}
		if err != nil && step.broken == nil {
			t.Errorf("%s: %v", step.what, err)
			continue
		}
		if step.broken != nil {
			var b *BrokenError
			if !errors.As(err, &b) || b.Sequence != step.broken.Sequence || !bytes.Contains([]byte(b.Reason), []byte(step.broken.Reason)) {
				t.Errorf("%s: %v, want entry %d: …%s…", step.what, err, step.broken.Sequence, step.broken.Reason)
			}
		}
	}
}

// The last entry again, but another one that verifies (made with the key):
// the trail forked.
func TestStreamFindsFork(t *testing.T) {
	entries, _ := testChain(t)
	stream := NewStream(testRing(t))
	for i := range 3 {
		line, _ := Line(testNamespace, testSubject, entries[i])
		if _, _, err := stream.Accept(line); err != nil {
			t.Fatal(err)
		}
	}
	fork := NewChain(testNamespace, testSubject, headOf(&entries[1]))
	line, _ := Line(testNamespace, testSubject, fork.Append(oldKey, start, operator, securityv1alpha1.AuditEscalated, nil))
	_, repeat, err := stream.Accept(line)
	var b *BrokenError
	if !repeat || !errors.As(err, &b) || b.Sequence != 2 {
		t.Errorf("a second entry 2: repeat %t, %v; want a broken chain at entry 2", repeat, err)
	}
}
