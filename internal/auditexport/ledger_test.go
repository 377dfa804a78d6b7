package auditexport

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// batch is a batch of n entries from first, each line naming its index.
func batch(namespace, uid string, first int64, n int) Batch {
	var lines strings.Builder
	for i := range n {
		fmt.Fprintf(&lines, "{\"index\":%d}\n", first+int64(i))
	}
	return Of(namespace, uid, first, lines.String())
}

// send drains what the namespace's export sends, as the sink sees it:
// each batch's key, marked "(read)" when the ledger did not hold it.
func send(l *Ledger, namespace string) (sent []string, skipped []Range) {
	for range 100 {
		b, skip, ok := l.Next(namespace)
		skipped = append(skipped, skip...)
		if !ok {
			return sent, skipped
		}
		key := b.Key()
		if b.Entries == "" {
			key += " (read)"
		}
		sent = append(sent, key)
		l.Sent(b)
	}
	panic("the export does not end")
}

func TestLedger(t *testing.T) {
	const ns = "council"
	tests := map[string]struct {
		hold    int
		resume  map[string]int64
		steps   func(l *Ledger)
		synced  bool
		sent    []string
		skipped []Range
		// cursors and gone are as stored after the export.
		cursors map[string]int64
		gone    []string
	}{
		"batches go in the log's order": {
			hold: 1 << 20,
			steps: func(l *Ledger) {
				l.Observe(batch(ns, "a", 0, 3))
				l.Observe(batch(ns, "b", 3, 2))
				l.Observe(batch(ns, "c", 5, 1))
			},
			sent:    []string{"council/0-2", "council/3-4", "council/5-5"},
			cursors: map[string]int64{ns: 6},
		},
		"a batch observed again is sent once": {
			hold: 1 << 20,
			steps: func(l *Ledger) {
				l.Observe(batch(ns, "a", 0, 3))
				l.Observe(batch(ns, "a", 0, 3))
			},
			sent:    []string{"council/0-2"},
			cursors: map[string]int64{ns: 3},
		},
		"beyond the budget a batch is read when its turn comes": {
			hold: len(batch(ns, "a", 0, 3).Entries),
			steps: func(l *Ledger) {
				l.Observe(batch(ns, "a", 0, 3))
				l.Observe(batch(ns, "b", 3, 2))
			},
			sent:    []string{"council/0-2", "council/3-4 (read)"},
			cursors: map[string]int64{ns: 5},
		},
		"a batch deleted while held is still sent": {
			hold: 1 << 20,
			steps: func(l *Ledger) {
				l.Observe(batch(ns, "a", 0, 3))
				l.Observe(batch(ns, "b", 3, 2))
				l.Forget(ns, 0, "a")
			},
			sent:    []string{"council/0-2", "council/3-4"},
			cursors: map[string]int64{ns: 5},
		},
		"a batch deleted and not held is skipped, and said": {
			steps: func(l *Ledger) {
				l.Observe(batch(ns, "a", 0, 3))
				l.Observe(batch(ns, "b", 3, 2))
				if !l.Forget(ns, 0, "a") {
					panic("the batch deleted is not said to be lost")
				}
			},
			sent:    []string{"council/3-4 (read)"},
			skipped: []Range{{0, 3}},
			cursors: map[string]int64{ns: 5},
		},
		"a batch sent, then deleted, is not lost": {
			steps: func(l *Ledger) {
				l.Observe(batch(ns, "a", 0, 3))
				l.Observe(batch(ns, "b", 3, 2))
				send(l, ns)
				if l.Forget(ns, 0, "a") {
					panic("a batch sent is said to be lost")
				}
			},
			cursors: map[string]int64{ns: 5},
		},
		"a namespace deleted: what is held drains and its cursor goes": {
			hold:   1 << 20,
			resume: map[string]int64{ns: 3},
			steps: func(l *Ledger) {
				l.Observe(batch(ns, "a", 0, 3))
				l.Observe(batch(ns, "b", 3, 2))
				l.Observe(batch(ns, "c", 5, 1))
				l.Forget(ns, 0, "a")
				l.Forget(ns, 5, "c")
				l.Forget(ns, 3, "b")
			},
			sent: []string{"council/3-4", "council/5-5"},
			gone: []string{ns},
		},
		"a namespace made again under the same name: the old log drains, the new one is sent from 0": {
			hold: 1 << 20,
			steps: func(l *Ledger) {
				l.Observe(batch(ns, "a", 0, 3))
				l.Observe(batch(ns, "b", 3, 2))
				l.Sent(batch(ns, "a", 0, 3))
				l.Observe(batch(ns, "new", 0, 4))
			},
			sent:    []string{"council/3-4", "council/0-3"},
			cursors: map[string]int64{ns: 4},
		},
		"a cursor resumed goes on from there": {
			resume: map[string]int64{ns: 3},
			steps: func(l *Ledger) {
				l.Observe(batch(ns, "a", 0, 3))
				l.Observe(batch(ns, "b", 3, 2))
			},
			synced:  true,
			sent:    []string{"council/3-4 (read)"},
			cursors: map[string]int64{ns: 5},
		},
		"a cursor resumed at the log's end sends nothing": {
			resume: map[string]int64{ns: 5},
			steps: func(l *Ledger) {
				l.Observe(batch(ns, "a", 0, 3))
				l.Observe(batch(ns, "b", 3, 2))
			},
			synced:  true,
			cursors: map[string]int64{ns: 5},
		},
		"a cursor inside a batch was another log's: the log is sent from 0": {
			resume: map[string]int64{ns: 2},
			steps: func(l *Ledger) {
				l.Observe(batch(ns, "a", 0, 3))
			},
			synced:  true,
			sent:    []string{"council/0-2 (read)"},
			cursors: map[string]int64{ns: 3},
		},
		"a cursor of a namespace with no log left is removed": {
			resume:  map[string]int64{ns: 7, "other": 2},
			steps:   func(l *Ledger) { l.Observe(batch("other", "x", 0, 2)) },
			synced:  true,
			cursors: map[string]int64{"other": 2},
			gone:    []string{ns},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			l := &Ledger{Hold: tc.hold}
			l.Resume(tc.resume)
			tc.steps(l)
			if tc.synced {
				l.Synced()
			}
			sent, skipped := send(l, ns)
			if !slices.Equal(sent, tc.sent) {
				t.Errorf("sent %q, want %q", sent, tc.sent)
			}
			if !slices.Equal(skipped, tc.skipped) {
				t.Errorf("skipped %v, want %v", skipped, tc.skipped)
			}
			cursors, gone, _ := l.Cursors()
			if !maps.Equal(cursors, tc.cursors) || !slices.Equal(gone, tc.gone) {
				t.Errorf("cursors %v, gone %v; want %v, %v", cursors, gone, tc.cursors, tc.gone)
			}
			if lag := l.Lag(); lag != 0 {
				t.Errorf("lag %d once everything is sent", lag)
			}
			if l.heldBytes != 0 {
				t.Errorf("%d bytes still held once everything is sent", l.heldBytes)
			}
		})
	}
}

// The lag counts every entry the sink has not acknowledged, held or not,
// in the log or draining from one that went.
func TestLedgerLag(t *testing.T) {
	l := &Ledger{Hold: 1 << 20}
	l.Observe(batch("a", "1", 0, 3))
	l.Observe(batch("a", "2", 3, 2))
	l.Observe(batch("b", "3", 0, 4))
	if lag := l.Lag(); lag != 9 {
		t.Fatalf("lag %d, want 9", lag)
	}
	b, _, _ := l.Next("a")
	l.Sent(b)
	if lag := l.Lag(); lag != 6 {
		t.Fatalf("lag %d after a's first batch, want 6", lag)
	}
	l.Forget("b", 0, "3")
	if lag := l.Lag(); lag != 6 {
		t.Fatalf("lag %d once b's log went, its batch draining, want 6", lag)
	}
}

// The sink's refusals are told once a streak, and a new batch waits for the
// namespace's backoff while they last.
func TestLedgerFailureStreak(t *testing.T) {
	l := &Ledger{Hold: 1 << 20}
	l.Observe(batch("a", "1", 0, 3))
	l.Observe(batch("a", "2", 3, 2))
	if l.Failing("a") {
		t.Fatal("failing before any refusal")
	}
	if !l.Failed("a") || l.Failed("a") || l.Failed("a") {
		t.Fatal("a streak of refusals is not told exactly once")
	}
	if !l.Failing("a") {
		t.Fatal("not failing during a streak")
	}
	b, _, _ := l.Next("a")
	if !l.Sent(b) {
		t.Fatal("the end of the streak is not told")
	}
	if l.Failing("a") {
		t.Fatal("still failing after the sink took a batch")
	}
	if !l.Failed("a") {
		t.Fatal("a second streak is not told")
	}
}

// The budget bounds what is held over all namespaces.
func TestLedgerHoldsWithinBudget(t *testing.T) {
	one := len(batch("a", "1", 0, 2).Entries)
	l := &Ledger{Hold: 2 * one}
	for i, ns := range []string{"a", "b", "c"} {
		l.Observe(batch(ns, fmt.Sprint(i), 0, 2))
	}
	if l.heldBytes > l.Hold {
		t.Fatalf("%d bytes held, over the budget of %d", l.heldBytes, l.Hold)
	}
	var read []string
	for _, ns := range l.Namespaces() {
		if b, _, _ := l.Next(ns); b.Entries == "" {
			read = append(read, ns)
		}
	}
	if !slices.Equal(read, []string{"c"}) {
		t.Fatalf("read again %v, want the one past the budget, c", read)
	}
}

func TestKey(t *testing.T) {
	if got := batch("council", "u", 256, 3).Key(); got != "council/256-258" {
		t.Fatalf("key %q", got)
	}
}
