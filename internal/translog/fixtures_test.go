package translog

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

const testOrigin = "incidents.example.com/log/security"

var start = time.Date(2026, 3, 2, 9, 15, 0, 123456789, time.UTC)

// keyPair is a log key made from a fixed seed, so that tests are
// repeatable.
type keyPair struct {
	signer   note.Signer
	verifier note.Verifier
}

func newKeyPair(t testing.TB, seed string) keyPair {
	t.Helper()
	skey, vkey, err := note.GenerateKey(strings.NewReader(strings.Repeat(seed, 32)), testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{signer, verifier}
}

// testEntries are the lives of incidents, interleaved as the operator
// writes them: entry i is of incident i%incidents.
func testEntries(incidents, each int) []Entry {
	actions := []string{"Reported", "Routed", "Acknowledged", "Escalated", "Resolved"}
	var entries []Entry
	for step := range each {
		for n := range incidents {
			entries = append(entries, Entry{
				Namespace: "security",
				Incident:  fmt.Sprintf("incident-%03d", n),
				UID:       fmt.Sprintf("0b5e1c2d-0000-4000-8000-%012d", n),
				Action:    actions[step%len(actions)],
				Actor:     fmt.Sprintf("user-%d@example.com", (n+step)%7),
				Time:      start.Add(time.Duration(len(entries)) * time.Second),
				Details:   map[string]string{"step": fmt.Sprint(step), "severity": "high"},
			})
		}
	}
	return entries
}

// writeLog appends entries in batches of per, and returns the batches.
func writeLog(t testing.TB, key keyPair, entries []Entry, per int) []Batch {
	t.Helper()
	return continueLog(t, key, nil, entries, per)
}

// continueLog replays kept, then appends entries in batches of per signed
// with key: what a writer does, and what someone who rewrites the log from
// some batch on does.
func continueLog(t testing.TB, key keyPair, kept []Batch, entries []Entry, per int) []Batch {
	t.Helper()
	l := NewLog(testOrigin, &MemoryHashes{})
	batches := append([]Batch(nil), kept...)
	for _, b := range kept {
		if err := l.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	for len(entries) > 0 {
		n := min(per, len(entries))
		b, err := l.Next(entries[:n], key.signer)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Append(b); err != nil {
			t.Fatal(err)
		}
		batches = append(batches, b)
		entries = entries[n:]
	}
	return batches
}

// cloneBatches copies batches deeply enough to change one's bytes.
func cloneBatches(batches []Batch) []Batch {
	out := make([]Batch, len(batches))
	for i, b := range batches {
		b.Payload = bytes.Clone(b.Payload)
		b.Checkpoint = bytes.Clone(b.Checkpoint)
		out[i] = b
	}
	return out
}
