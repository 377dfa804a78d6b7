// Package auditexport decides what the export of the namespaces' audit logs
// to an audit sink sends next: for each namespace, the batch at its cursor
// (the first index the sink has not acknowledged), where the export resumes
// after a restart, which batches not yet sent are held in memory so that one
// deleted meanwhile is still sent, and how many entries the sink lacks.
//
// It is pure: the operator tells its Ledger the batches its watch sees, what
// the sink took and what it refused, and does every read, send and write.
package auditexport

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// Batch is one batch of a namespace's audit log as the watch sees it.
type Batch struct {
	Namespace string
	// First is the index of its first entry; End the index after its last.
	First, End int64
	// UID tells the batch from one of the same name in a later log, that
	// of a namespace made again under the same name.
	UID string
	// Entries are its JSON Lines, each the leaf the log hashes; empty when
	// the ledger does not hold them, and the batch is read to be sent.
	Entries string
}

// Of is the batch of namespace whose entries, from index first, are the
// JSON Lines entries.
func Of(namespace, uid string, first int64, entries string) Batch {
	return Batch{Namespace: namespace, UID: uid, First: first, End: first + int64(strings.Count(entries, "\n")), Entries: entries}
}

// Key is the batch's idempotency key: its namespace and the indexes of its
// first and last entries. A sink that keeps what it took by key drops a
// batch sent again.
func (b Batch) Key() string { return fmt.Sprintf("%s/%d-%d", b.Namespace, b.First, b.End-1) }

// Range is the indexes from First up to End, End excluded.
type Range struct{ First, End int64 }

// Ledger is the export's state: written by the watch, read and advanced by
// the senders, each of which works on one namespace at a time.
type Ledger struct {
	// Hold bounds the bytes of entries held in memory, over every
	// namespace, for batches not sent yet. A batch beyond it is read again
	// when its turn comes, and is not sent if it was deleted by then.
	Hold int

	mu        sync.Mutex
	logs      map[string]*namespaceLog
	heldBytes int
	// gone are the namespaces whose log went, whose cursors are to be
	// removed from where they are stored.
	gone map[string]bool
	// version counts the changes of the cursors.
	version uint64
}

// namespaceLog is one namespace's log as the export follows it.
type namespaceLog struct {
	// next is the cursor: the index of the first entry the sink has not
	// acknowledged.
	next int64
	// end is the index after the last entry of the log seen.
	end int64
	// batches are those the watch holds, by first index.
	batches map[int64]batchRef
	// held are batches not sent yet whose entries are in memory, by first
	// index, deleted or not.
	held map[int64]Batch
	// draining are the batches held of a log that went (its namespace was
	// deleted): sent before anything else, whatever the cursor.
	draining []Batch
	// failing is set from the sink's first refusal until it takes a batch.
	failing bool
}

type batchRef struct {
	end int64
	uid string
}

func (l *Ledger) logOf(namespace string) *namespaceLog {
	if l.logs == nil {
		l.logs = map[string]*namespaceLog{}
	}
	log := l.logs[namespace]
	if log == nil {
		log = &namespaceLog{batches: map[int64]batchRef{}, held: map[int64]Batch{}}
		l.logs[namespace] = log
	}
	return log
}

// Resume sets, before the watch starts, where each namespace's export
// resumes: the cursors stored when the export last stopped.
func (l *Ledger) Resume(cursors map[string]int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for namespace, next := range cursors {
		l.logOf(namespace).next = next
	}
}

// Observe records a batch the watch delivered: added, listed again, or
// deleted (its final state). It holds the batch's entries while the sink
// lacks them and the budget allows; observing a batch again changes
// nothing.
func (l *Ledger) Observe(b Batch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	log := l.logOf(b.Namespace)
	if known, ok := log.batches[b.First]; ok && known.uid != b.UID {
		// A later log of a namespace made again under the same name.
		l.restart(log)
	}
	log.batches[b.First] = batchRef{end: b.End, uid: b.UID}
	log.end = max(log.end, b.End)
	if _, held := log.held[b.First]; held || b.Entries == "" || b.First < log.next {
		return
	}
	if l.heldBytes+len(b.Entries) <= l.Hold {
		log.held[b.First] = b
		l.heldBytes += len(b.Entries)
	}
}

// Forget records the deletion of a batch. A batch held is still sent; lost
// is true for one the sink lacks that is not held. Once none of its
// namespace's batches is left, the log is gone: its cursor is dropped and
// what is held of it drains.
func (l *Ledger) Forget(namespace string, first int64, uid string) (lost bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	log := l.logs[namespace]
	if log == nil {
		return false
	}
	known, ok := log.batches[first]
	if !ok || known.uid != uid {
		return false
	}
	delete(log.batches, first)
	_, held := log.held[first]
	lost = first >= log.next && !held
	if len(log.batches) == 0 {
		l.restart(log)
		l.markGone(namespace)
		if len(log.draining) == 0 {
			delete(l.logs, namespace)
		}
	}
	return lost
}

// restart moves what is held of a namespace's log to drain, and starts
// its cursor again at 0 for the log to come.
func (l *Ledger) restart(log *namespaceLog) {
	for _, first := range slices.Sorted(maps.Keys(log.held)) {
		log.draining = append(log.draining, log.held[first])
	}
	log.held = map[int64]Batch{}
	log.batches = map[int64]batchRef{}
	log.next, log.end = 0, 0
	l.version++
}

// markGone has the namespace's cursor removed where it is stored.
func (l *Ledger) markGone(namespace string) {
	if l.gone == nil {
		l.gone = map[string]bool{}
	}
	l.gone[namespace] = true
	l.version++
}

// Synced checks, once the watch has listed every batch, the cursors
// resumed: that of a namespace with no batch left is dropped (its log
// went while no export ran), and one that does not fall between two
// batches was another log's (the namespace was made again under the same
// name): that namespace is exported from its log's start, and returned.
func (l *Ledger) Synced() (restarted []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, namespace := range slices.Sorted(maps.Keys(l.logs)) {
		log := l.logs[namespace]
		switch {
		case len(log.batches) == 0 && len(log.draining) == 0:
			delete(l.logs, namespace)
			l.markGone(namespace)
		case !log.atBoundary():
			log.next = 0
			l.version++
			restarted = append(restarted, namespace)
		}
	}
	return restarted
}

// atBoundary is true when the cursor is the log's start, a batch's first
// index or the index after a batch.
func (log *namespaceLog) atBoundary() bool {
	if _, ok := log.batches[log.next]; ok || log.next == 0 {
		return true
	}
	for _, b := range log.batches {
		if b.end == log.next {
			return true
		}
	}
	return false
}

// Next is the batch the namespace's export sends next, and whether there
// is one. Its Entries are empty when it is to be read first. When no batch
// begins at the cursor but a later one does, those between were deleted
// before they were sent: the cursor moves past them, and skipped says
// which entries the sink will never have from this export.
func (l *Ledger) Next(namespace string) (b Batch, skipped []Range, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	log := l.logs[namespace]
	if log == nil {
		return Batch{}, nil, false
	}
	if len(log.draining) > 0 {
		return log.draining[0], nil, true
	}
	for {
		if held, ok := log.held[log.next]; ok {
			return held, skipped, true
		}
		if known, ok := log.batches[log.next]; ok {
			return Batch{Namespace: namespace, First: log.next, End: known.end, UID: known.uid}, skipped, true
		}
		after, found := log.after(log.next)
		if !found {
			return Batch{}, skipped, false
		}
		skipped = append(skipped, Range{First: log.next, End: after})
		log.next = after
		l.version++
	}
}

// after is the smallest first index of a batch past index, held or not.
func (log *namespaceLog) after(index int64) (int64, bool) {
	found := false
	var first int64
	for _, candidates := range [][]int64{slices.Collect(maps.Keys(log.batches)), slices.Collect(maps.Keys(log.held))} {
		for _, f := range candidates {
			if f > index && (!found || f < first) {
				first, found = f, true
			}
		}
	}
	return first, found
}

// Sent records that the sink acknowledged the batch Next returned. It is
// true when that ends a streak of refusals.
func (l *Ledger) Sent(b Batch) (recovered bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	log := l.logs[b.Namespace]
	if log == nil {
		return false
	}
	recovered, log.failing = log.failing, false
	if i := slices.IndexFunc(log.draining, func(d Batch) bool { return d.First == b.First && d.UID == b.UID }); i >= 0 {
		l.heldBytes -= len(log.draining[i].Entries)
		log.draining = slices.Delete(log.draining, i, i+1)
		if len(log.draining) == 0 && len(log.batches) == 0 {
			delete(l.logs, b.Namespace)
		}
		return recovered
	}
	l.advance(log, b)
	return recovered
}

// Lost records that the batch Next returned to be read was deleted first:
// the export goes on after it.
func (l *Ledger) Lost(b Batch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if log := l.logs[b.Namespace]; log != nil {
		l.advance(log, b)
	}
}

// advance moves the cursor past b when it is at b, and lets go of b's
// entries.
func (l *Ledger) advance(log *namespaceLog, b Batch) {
	if b.First != log.next {
		return
	}
	log.next = b.End
	if held, ok := log.held[b.First]; ok {
		l.heldBytes -= len(held.Entries)
		delete(log.held, b.First)
	}
	l.version++
}

// Failed records that the sink refused the namespace's next batch. It is
// true for the first refusal of a streak: what a person is told once.
func (l *Ledger) Failed(namespace string) (first bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	log := l.logs[namespace]
	if log == nil {
		return false
	}
	first, log.failing = !log.failing, true
	return first
}

// Failing is true while the sink refuses the namespace's batches: a new
// batch then waits for the namespace's backoff instead of cutting it short.
func (l *Ledger) Failing(namespace string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	log := l.logs[namespace]
	return log != nil && log.failing
}

// Lag is how many entries of the logs the sink has not acknowledged.
func (l *Ledger) Lag() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var lag int64
	for _, log := range l.logs {
		lag += max(0, log.end-log.next)
		for _, b := range log.draining {
			lag += b.End - b.First
		}
	}
	return lag
}

// Cursors are where each namespace's export resumes (those with a log),
// the namespaces whose logs went since the cursors were last stored, and
// the version of both, for Stored.
func (l *Ledger) Cursors() (cursors map[string]int64, gone []string, version uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cursors = map[string]int64{}
	for namespace, log := range l.logs {
		if len(log.batches) > 0 {
			cursors[namespace] = log.next
		}
	}
	for namespace := range l.gone {
		if _, followed := cursors[namespace]; !followed {
			gone = append(gone, namespace)
		}
	}
	slices.Sort(gone)
	return cursors, gone, l.version
}

// Stored records that the cursors Cursors returned are stored, and the
// gone namespaces' removed.
func (l *Ledger) Stored(gone []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, namespace := range gone {
		delete(l.gone, namespace)
	}
}

// Namespaces are those with a log or with batches to drain, in order.
func (l *Ledger) Namespaces() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Sorted(maps.Keys(l.logs))
}
