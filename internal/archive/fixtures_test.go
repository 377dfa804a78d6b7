package archive

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/incidentops/incident-operator/internal/translog"
)

const testOrigin = "incidents.example.com/log/security"

var year = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// month is the start of the month m of the year, 1 to 13.
func month(m int) time.Time { return year.AddDate(0, m-1, 0) }

type keyPair struct {
	signer   note.Signer
	verifier note.Verifier
}

// newKeyPair is a log key from a fixed seed, so that tests repeat.
func newKeyPair(t testing.TB, seed string) keyPair {
	t.Helper()
	skey, vkey, err := note.GenerateKey(strings.NewReader(strings.Repeat(seed, 32)), testOrigin)
	signer, signerErr := note.NewSigner(skey)
	verifier, verifierErr := note.NewVerifier(vkey)
	if err := errors.Join(err, signerErr, verifierErr); err != nil {
		t.Fatal(err)
	}
	return keyPair{signer, verifier}
}

// yearOfIncidents are the entries of incidents spread over the year, in
// the order the log holds them: incident n opens at the n-th fraction of
// the year and has each entries, six hours apart.
func yearOfIncidents(incidents, each int) []translog.Entry {
	actions := []string{"Reported", "Routed", "Acknowledged", "Escalated", "Resolved"}
	every := 365 * 24 * time.Hour / time.Duration(incidents)
	var entries []translog.Entry
	for n := range incidents {
		for step := range each {
			entries = append(entries, translog.Entry{
				Namespace: "security",
				Incident:  fmt.Sprintf("incident-%04d", n),
				UID:       fmt.Sprintf("0b5e1c2d-0000-4000-8000-%012d", n),
				Action:    actions[step%len(actions)],
				Actor:     fmt.Sprintf("user-%d@example.com", (n+step)%7),
				Time:      year.Add(time.Duration(n)*every + time.Duration(step)*6*time.Hour + time.Duration(n%60)*time.Second),
				Details:   map[string]string{"step": fmt.Sprint(step), "severity": "high"},
			})
		}
	}
	slices.SortStableFunc(entries, func(a, b translog.Entry) int { return a.Time.Compare(b.Time) })
	return entries
}

// writeLog numbers and signs entries as a writer does, in batches of per,
// after the batches kept, and returns all the batches.
func writeLog(t testing.TB, key keyPair, kept []translog.Batch, entries []translog.Entry, per int) []translog.Batch {
	t.Helper()
	l := translog.NewLog(testOrigin, &translog.MemoryHashes{})
	batches := slices.Clone(kept)
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

// archive writes batches to store as the operator does.
func archive(t testing.TB, store Store, batches []translog.Batch) {
	t.Helper()
	w := NewWriter(store, 0, clocktesting.NewFakePassiveClock(year))
	for _, b := range batches {
		if err := w.Append(context.Background(), testOrigin, b); err != nil {
			t.Fatal(err)
		}
	}
}

// statuses are what each incident's status records of its entries.
func statuses(batches []translog.Batch) []translog.Expected {
	byUID := map[string]*translog.Expected{}
	for _, b := range batches {
		lines, _ := b.Lines()
		for _, line := range lines {
			e, _ := translog.ParseEntry(line)
			x, ok := byUID[e.UID]
			if !ok {
				x = &translog.Expected{Namespace: e.Namespace, Incident: e.Incident, UID: e.UID}
				byUID[e.UID] = x
			}
			x.Entries++
			x.Last = e.Index
		}
	}
	var out []translog.Expected
	for _, x := range byUID {
		out = append(out, *x)
	}
	slices.SortFunc(out, func(a, b translog.Expected) int { return cmp.Compare(a.Last, b.Last) })
	return out
}

// entryOf is the index of an incident's step-th entry.
func entryOf(t testing.TB, batches []translog.Batch, incident string, step int) (int64, int) {
	t.Helper()
	for i, b := range batches {
		lines, _ := b.Lines()
		for _, line := range lines {
			e, _ := translog.ParseEntry(line)
			if e.Incident == incident && e.Details["step"] == fmt.Sprint(step) {
				return e.Index, i
			}
		}
	}
	t.Fatalf("no entry %d of %s", step, incident)
	return 0, 0
}

// edited is b with its entry at index changed by edit, encoded again.
func edited(t testing.TB, b translog.Batch, index int64, edit func(*translog.Entry)) translog.Batch {
	t.Helper()
	lines, err := b.Lines()
	if err != nil {
		t.Fatal(err)
	}
	e, err := translog.ParseEntry(lines[index-b.First])
	if err != nil {
		t.Fatal(err)
	}
	edit(&e)
	if lines[index-b.First], err = e.Line(); err != nil {
		t.Fatal(err)
	}
	var payload []byte
	for _, line := range lines {
		payload = append(append(payload, line...), '\n')
	}
	b.Payload = payload
	return b
}

// overlapping are the indexes of the batches with an entry in [from, to).
func overlapping(t testing.TB, batches []translog.Batch, from, to time.Time) []int {
	t.Helper()
	var in []int
	for i, b := range batches {
		first, err := entryTime(b, 0)
		if err != nil {
			t.Fatal(err)
		}
		last, err := entryTime(b, -1)
		if err != nil {
			t.Fatal(err)
		}
		if !last.Before(from) && first.Before(to) {
			in = append(in, i)
		}
	}
	return in
}

// recordHashes are the leaf hashes of batches, in order.
func recordHashes(batches []translog.Batch) []tlog.Hash {
	var out []tlog.Hash
	for _, b := range batches {
		lines, _ := b.Lines()
		for _, line := range lines {
			out = append(out, tlog.RecordHash(line))
		}
	}
	return out
}
