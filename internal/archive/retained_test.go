package archive

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	clocktesting "k8s.io/utils/clock/testing"
)

// retainedOf is incident n of the log as the operator archives it when
// its retention ends: its entries with their indexes.
func retainedOf(t *testing.T, batches []batchEntries, n string) Retained {
	t.Helper()
	r := Retained{Namespace: "security", Name: n, Archived: month(12), Incident: json.RawMessage(`{"kind":"Incident","metadata":{"name":"` + n + `"}}`)}
	for _, b := range batches {
		for j, line := range b.lines {
			if strings.Contains(string(line), `"incident":"`+n+`"`) {
				r.Entries = append(r.Entries, RetainedEntry{Index: b.first + int64(j), Leaf: json.RawMessage(line)})
				if r.UID == "" {
					var e struct{ UID string }
					_ = json.Unmarshal(line, &e)
					r.UID = e.UID
				}
			}
		}
	}
	if len(r.Entries) == 0 {
		t.Fatalf("the log holds no entry of %s", n)
	}
	return r
}

type batchEntries struct {
	first int64
	lines [][]byte
}

func TestRetainedIncidentsSayWhatTheArchivedLogSays(t *testing.T) {
	ctx := context.Background()
	key := newKeyPair(t, "r")
	batches := writeLog(t, key, nil, yearOfIncidents(20, 5), 16)
	store := newDirStore(t)
	archive(t, store, batches)
	var lines []batchEntries
	for _, b := range batches {
		ls, err := b.Lines()
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, batchEntries{b.First, ls})
	}
	w := NewWriter(store, 0, clocktesting.NewFakePassiveClock(year))
	whole := retainedOf(t, lines, "incident-0003")

	k, err := w.Retain(ctx, testOrigin, whole)
	if err != nil {
		t.Fatal(err)
	}
	if want := testOrigin + "/incidents/incident-0003/" + whole.UID + ".json"; k != want {
		t.Fatalf("archived at %s, want %s", k, want)
	}
	if _, err := w.Retain(ctx, testOrigin, whole); err != nil {
		t.Fatalf("archiving the same incident again: %v", err)
	}
	read, err := ReadRetained(ctx, store, testOrigin, "incident-0003")
	if err != nil || len(read) != 1 || len(read[0].Entries) != 5 {
		t.Fatalf("read back %d incidents (%v), want the one with its 5 entries", len(read), err)
	}
	if err := CheckRetained(ctx, store, testOrigin, read[0]); err != nil {
		t.Fatalf("the archived incident does not check: %v", err)
	}
	all, err := ListRetained(ctx, store, testOrigin)
	if err != nil || len(all) != 1 {
		t.Fatalf("listed %d archived incidents (%v), want 1", len(all), err)
	}

	changed := whole
	changed.Evidence = []json.RawMessage{json.RawMessage(`{"kind":"Evidence"}`)}
	if _, err := w.Retain(ctx, testOrigin, changed); err == nil || !strings.Contains(err.Error(), "other bytes") {
		t.Fatalf("archiving other bytes for the same incident: %v, want refused", err)
	}

	tampered := map[string]struct {
		change func(r *Retained)
		says   string
	}{
		"an entry edited": {func(r *Retained) {
			r.Entries[2].Leaf = json.RawMessage(strings.Replace(string(r.Entries[2].Leaf), "high", "low", 1))
		}, "is not the one the log holds"},
		"an entry left out": {func(r *Retained) {
			r.Entries = append(r.Entries[:1:1], r.Entries[2:]...)
		}, "leaves out its entry"},
		"an entry the log does not hold": {func(r *Retained) {
			r.Entries = append(r.Entries, RetainedEntry{Index: 1 << 40, Leaf: r.Entries[0].Leaf})
		}, "the archived log does not"},
		"no entries": {func(r *Retained) { r.Entries = nil }, "holds no entry"},
	}
	for name, c := range tampered {
		t.Run(name, func(t *testing.T) {
			r := whole
			r.Entries = append([]RetainedEntry(nil), whole.Entries...)
			c.change(&r)
			err := CheckRetained(ctx, store, testOrigin, r)
			if err == nil || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("CheckRetained = %v, want an error saying %q", err, c.says)
			}
		})
	}
}
