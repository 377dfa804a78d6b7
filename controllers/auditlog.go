package controllers

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/audit"
	"github.com/incidentops/incident-operator/internal/record"
	"github.com/incidentops/incident-operator/internal/translog"
)

// +kubebuilder:rbac:groups=security.incidentops.io,resources=auditbatches,verbs=get;list;create;append

// AuditLog writes every namespace's audit log: one append-only
// transparency log a namespace (internal/translog), kept as AuditBatch
// objects that are created once and never changed. Writers wait a short
// window so that the entries of every incident reconciled meanwhile go
// into one batch (group commit): one object created for many incidents'
// entries, instead of one write per incident.
//
// Only the leader writes. Two writers that both append at one index
// collide on the batch's name, which is its first index: the loser's
// entries are not written, and its caller tries again once the log is
// read anew.
type AuditLog struct {
	// Client creates batches.
	Client client.Client
	// Reader reads batches as stored: the operator does not cache them.
	Reader client.Reader
	Key    *LogKey
	Clock  clock.Clock
	// Origin prefixes every namespace's log name: <Origin>/<namespace>.
	Origin string
	// Window is how long a batch waits for more entries; 20 ms when zero.
	Window time.Duration
	// MaxEntries closes a batch early; 256 when zero.
	MaxEntries int
	// Archiver, when set, copies each batch written to the archive.
	Archiver *AuditArchiver

	mu   sync.Mutex
	logs map[logID]*namespaceLog
}

// Audit is how incidents are recorded: the namespaces' logs, and the
// exporter that streams them to the audit sink (nil without one).
type Audit struct {
	Log      *AuditLog
	Exporter *AuditExporter
}

// logID tells a namespace's log from that of a later namespace of the same
// name.
type logID struct {
	namespace string
	uid       types.UID
}

// LogEntry is one entry as a writer hands it to the log.
type LogEntry struct {
	Action   string
	Actor    string
	Groups   []string
	Operator bool
	Details  map[string]string
}

// LogSubject is the incident entries are about.
type LogSubject struct {
	Namespace, Name string
	UID             types.UID
	// NamespaceUID tells the namespace from a later one of the same name.
	NamespaceUID types.UID
}

// LogPosition is where an incident's entries sit in the log: how many,
// and the index of the last.
type LogPosition struct {
	Entries, Last int64
}

// defaultLogWindow and defaultLogBatch bound a group commit.
const (
	defaultLogWindow = 20 * time.Millisecond
	defaultLogBatch  = 256
	// maxBatchPayload keeps a batch well under the CRD's limit of 1 MiB
	// of entries and etcd's of 1.5 MiB an object.
	maxBatchPayload = 768 << 10
)

// originOf is the name of a namespace's log in its checkpoints.
func (a *AuditLog) originOf(namespace string) string {
	return a.originPrefix() + "/" + namespace
}

// originPrefix prefixes every namespace's log name.
func (a *AuditLog) originPrefix() string { return cmp.Or(a.Origin, "incident-operator") }

// Stored returns the entries of subject the log holds after the first
// recorded ones (those a status counts already), read from the API server:
// what an earlier append stored before its status write failed. The
// caller leaves them out of what it appends next.
func (a *AuditLog) Stored(ctx context.Context, subject LogSubject, recorded int64) ([]translog.Entry, error) {
	l, err := a.load(ctx, subject)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	indexes := slices.Clone(l.byUID[subject.UID])
	l.mu.Unlock()
	if int64(len(indexes)) <= recorded {
		return nil, nil
	}
	return l.read(ctx, indexes[recorded:])
}

// Entries are every entry of subject the log holds, with their indexes,
// read from the API server.
func (a *AuditLog) Entries(ctx context.Context, subject LogSubject) ([]int64, []translog.Entry, error) {
	l, err := a.load(ctx, subject)
	if err != nil {
		return nil, nil, err
	}
	l.mu.Lock()
	indexes := slices.Clone(l.byUID[subject.UID])
	l.mu.Unlock()
	entries, err := l.read(ctx, indexes)
	return indexes, entries, err
}

// Record stores an incident's entries in its namespace's log, leaving out
// those an earlier append stored after the recorded ones its status counts
// (its status write failed), and returns where the incident's entries then
// sit. It returns once they are stored: the caller writes the status that
// they explain only then.
func (a *AuditLog) Record(ctx context.Context, subject LogSubject, recorded int64, entries []record.Entry) (LogPosition, error) {
	stored, err := a.Stored(ctx, subject, recorded)
	if err != nil {
		return LogPosition{}, err
	}
	left := notYetRecorded(entries, stored)
	built := make([]LogEntry, len(left))
	for i, e := range left {
		built[i] = logEntryOf(e)
	}
	return a.Append(ctx, subject, built)
}

// logEntryOf is a record entry as the log stores it.
func logEntryOf(e record.Entry) LogEntry {
	actor, action, details := audit.Bounded(e.Actor, e.Action, e.Details)
	return LogEntry{Action: string(action), Actor: actor.Username, Groups: actor.Groups, Operator: actor.Operator, Details: details}
}

// notYetRecorded drops from entries those stored already: the same actions,
// by the same actors, with the same details as the log stores them. Each
// stored entry accounts for one entry, wherever it comes in the batch: a
// change of the spec observed since comes first in the new batch, before
// the entries stored already.
func notYetRecorded(entries []record.Entry, stored []translog.Entry) []record.Entry {
	used := make([]bool, len(stored))
	var left []record.Entry
	for _, e := range entries {
		built := logEntryOf(e)
		recorded := false
		for j, s := range stored {
			if !used[j] && built.Action == s.Action && built.Actor == s.Actor && built.Operator == s.Operator && maps.Equal(built.Details, s.Details) {
				used[j], recorded = true, true
				break
			}
		}
		if !recorded {
			left = append(left, e)
		}
	}
	return left
}

// Append stores entries of subject in its namespace's log, and returns
// where the subject's entries sit once they are stored. It returns once
// the batch holding them is created: the caller writes the status that
// they explain only then.
func (a *AuditLog) Append(ctx context.Context, subject LogSubject, entries []LogEntry) (LogPosition, error) {
	l, err := a.load(ctx, subject)
	if err != nil {
		return LogPosition{}, err
	}
	if len(entries) > 0 {
		now := a.Clock.Now().UTC()
		built := make([]translog.Entry, len(entries))
		for i, e := range entries {
			built[i] = translog.Entry{
				Namespace: subject.Namespace, Incident: subject.Name, UID: string(subject.UID),
				Action: e.Action, Actor: e.Actor, Groups: e.Groups, Operator: e.Operator, Time: now, Details: e.Details,
			}
		}
		if err := l.submit(ctx, subject.UID, built); err != nil {
			return LogPosition{}, fmt.Errorf("appending to the audit log of namespace %s: %w", subject.Namespace, err)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	indexes := l.byUID[subject.UID]
	if len(indexes) == 0 {
		return LogPosition{}, nil
	}
	return LogPosition{Entries: int64(len(indexes)), Last: indexes[len(indexes)-1]}, nil
}

// Position is where the log holds subject's entries, as this writer knows.
func (a *AuditLog) Position(ctx context.Context, subject LogSubject) (LogPosition, error) {
	return a.Append(ctx, subject, nil)
}

// load returns the namespace's log, reading it from the API server the
// first time and after a write whose outcome is unknown.
func (a *AuditLog) load(ctx context.Context, subject LogSubject) (*namespaceLog, error) {
	id := logID{subject.Namespace, subject.NamespaceUID}
	a.mu.Lock()
	if a.logs == nil {
		a.logs = map[logID]*namespaceLog{}
	}
	l := a.logs[id]
	if l == nil {
		l = &namespaceLog{writer: a, namespace: subject.Namespace, origin: a.originOf(subject.Namespace)}
		a.logs[id] = l
		// A namespace deleted and made again starts a new log: the old
		// one's state must not be appended to.
		for other := range a.logs {
			if other.namespace == id.namespace && other.uid != id.uid {
				delete(a.logs, other)
			}
		}
	}
	a.mu.Unlock()
	return l, l.ensureLoaded(ctx)
}

// namespaceLog is one namespace's log as its writer holds it.
type namespaceLog struct {
	writer    *AuditLog
	namespace string
	origin    string

	// loadMu serializes reading the log and writing it; mu guards the
	// fields below it, which callers read while a batch is written.
	loadMu sync.Mutex
	log    *translog.Log
	// firsts are the first indexes of the batches, in order; checkpoint
	// is the newest batch's signed checkpoint.
	firsts     []int64
	checkpoint []byte

	mu     sync.Mutex
	byUID  map[types.UID][]int64
	queue  []*submission
	active bool
	// stale is set when a write's outcome is unknown: the log is read
	// anew before anything else is appended.
	stale bool
}

type submission struct {
	uid     types.UID
	entries []translog.Entry
	done    chan error
	// queued is when the entries were appended, by the wall clock: the
	// commit latency is measured, never decided on.
	queued time.Time
}

// ensureLoaded reads the log from the API server unless it is current.
func (l *namespaceLog) ensureLoaded(ctx context.Context) error {
	if l.current() {
		return nil
	}
	l.loadMu.Lock()
	defer l.loadMu.Unlock()
	if l.current() {
		return nil
	}
	return l.reload(ctx)
}

// current is true while the log as held is the one stored.
func (l *namespaceLog) current() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.log != nil && !l.stale
}

// reload reads every batch of the namespace, in order, into a new log,
// checking that each continues the one before and that the newest
// checkpoint verifies with the published key. Callers hold loadMu.
func (l *namespaceLog) reload(ctx context.Context) error {
	log := translog.NewLog(l.origin, &translog.MemoryHashes{})
	byUID := map[types.UID][]int64{}
	var firsts []int64
	var newest []byte
	for next := ""; ; {
		var list securityv1alpha1.AuditBatchList
		if err := l.writer.Reader.List(ctx, &list, client.InNamespace(l.namespace), client.Limit(100), client.Continue(next)); err != nil {
			return fmt.Errorf("reading the audit log of namespace %s: %w", l.namespace, err)
		}
		slices.SortFunc(list.Items, func(a, b securityv1alpha1.AuditBatch) int { return cmp.Compare(a.Spec.First, b.Spec.First) })
		for i := range list.Items {
			b, err := BatchOf(&list.Items[i])
			if err != nil {
				return err
			}
			if err := log.Append(b); err != nil {
				return fmt.Errorf("the audit log of namespace %s does not continue at %s, so nothing is appended to it until it is put right (kubectl incident audit verify --all -n %s): %w", l.namespace, b.Name(), l.namespace, err)
			}
			lines, _ := b.Lines()
			for j, line := range lines {
				e, err := translog.ParseEntry(line)
				if err != nil {
					return fmt.Errorf("audit batch %s/%s, entry %d: %w", l.namespace, b.Name(), b.First+int64(j), err)
				}
				byUID[types.UID(e.UID)] = append(byUID[types.UID(e.UID)], b.First+int64(j))
			}
			firsts = append(firsts, b.First)
			newest = b.Checkpoint
		}
		if next = list.Continue; next == "" {
			break
		}
	}
	if newest != nil {
		verifier := l.writer.Key.Verifier()
		if verifier == nil {
			_, err := l.writer.Key.Signer()
			return err
		}
		if _, err := translog.OpenCheckpoint(newest, l.origin, verifier); err != nil {
			return fmt.Errorf("the newest checkpoint of the audit log of namespace %s does not verify with the audit log key, so nothing is appended to it: restore the key that signed it (%w)", l.namespace, err)
		}
	}
	l.firsts, l.checkpoint = firsts, newest
	l.mu.Lock()
	l.log, l.byUID, l.stale = log, byUID, false
	l.mu.Unlock()
	return nil
}

// BatchOf reads a stored batch as the log holds it.
func BatchOf(obj *securityv1alpha1.AuditBatch) (translog.Batch, error) {
	b, err := translog.ParseStored(obj.Spec.First, obj.Spec.Entries, obj.Spec.Previous, obj.Spec.Root, obj.Spec.Checkpoint)
	if err != nil {
		return b, fmt.Errorf("audit batch %s/%s: spec.%w", obj.Namespace, obj.Name, err)
	}
	if obj.Name != b.Name() {
		return b, fmt.Errorf("audit batch %s/%s begins at %d: it should be named %s", obj.Namespace, obj.Name, b.First, b.Name())
	}
	return b, nil
}

// objectOf is the object that stores a batch.
func objectOf(namespace string, b translog.Batch) *securityv1alpha1.AuditBatch {
	return &securityv1alpha1.AuditBatch{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: b.Name()},
		Spec: securityv1alpha1.AuditBatchSpec{
			First: b.First, Entries: string(b.Payload),
			Previous: base64.StdEncoding.EncodeToString(b.Previous[:]), Root: base64.StdEncoding.EncodeToString(b.Root[:]),
			Checkpoint: string(b.Checkpoint),
		},
	}
}

// auditLogCommitSeconds is how long entries wait from their append until
// the batch that holds them, with its signed checkpoint, is stored.
var auditLogCommitSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
	Name:    "incidentops_audit_log_commit_seconds",
	Help:    "Time from an audit entry's append until the batch holding it, with the signed checkpoint that covers it, is stored.",
	Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
})

func init() { metrics.Registry.MustRegister(auditLogCommitSeconds) }

// submit queues entries for the next batch and waits until it is written.
// The first writer to queue commits every batch until the queue is empty.
func (l *namespaceLog) submit(ctx context.Context, uid types.UID, entries []translog.Entry) error {
	s := &submission{uid: uid, entries: entries, done: make(chan error, 1), queued: time.Now()}
	l.mu.Lock()
	l.queue = append(l.queue, s)
	start := !l.active
	l.active = true
	l.mu.Unlock()
	if start {
		go l.commit(context.WithoutCancel(ctx))
	}
	select {
	case err := <-s.done:
		return err
	case <-ctx.Done():
		// The entries may yet be written; the next append finds them.
		return ctx.Err()
	}
}

// commit writes batches until the queue is empty. Only the first batch of
// a burst waits the window for company: the entries queued while a batch
// was being written have waited as long as that write, so the next batch
// is written at once, and a busy log writes back to back.
func (l *namespaceLog) commit(ctx context.Context) {
	for wrote := false; ; wrote = true {
		l.mu.Lock()
		full := queued(l.queue) >= l.maxEntries()
		l.mu.Unlock()
		if !full && !wrote {
			time.Sleep(cmp.Or(l.writer.Window, defaultLogWindow))
		}
		l.mu.Lock()
		take := l.take()
		if len(take) == 0 {
			l.active = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		err := l.write(ctx, take)
		for _, s := range take {
			if err == nil {
				auditLogCommitSeconds.Observe(time.Since(s.queued).Seconds())
			}
			s.done <- err
		}
	}
}

func (l *namespaceLog) maxEntries() int { return cmp.Or(l.writer.MaxEntries, defaultLogBatch) }

func queued(q []*submission) int {
	n := 0
	for _, s := range q {
		n += len(s.entries)
	}
	return n
}

// take removes from the queue the submissions of the next batch: whole
// submissions, at least one, up to the batch's bounds. Callers hold mu.
func (l *namespaceLog) take() []*submission {
	n, entries, bytes := 0, 0, 0
	for n < len(l.queue) {
		s := l.queue[n]
		size := 0
		for _, e := range s.entries {
			size += 256 + len(e.Action) + len(e.Actor)
			for k, v := range e.Details {
				size += len(k) + len(v) + 8
			}
		}
		if n > 0 && (entries+len(s.entries) > l.maxEntries() || bytes+size > maxBatchPayload) {
			break
		}
		n, entries, bytes = n+1, entries+len(s.entries), bytes+size
	}
	take := l.queue[:n:n]
	l.queue = l.queue[n:]
	return take
}

// write stores one batch of the submissions' entries. A create whose
// outcome is unknown, or that collides with another writer's batch, makes
// the log stale: it is read anew before the next append, and the callers'
// next attempt leaves out whatever of theirs turns out to be stored.
func (l *namespaceLog) write(ctx context.Context, take []*submission) error {
	l.loadMu.Lock()
	defer l.loadMu.Unlock()
	l.mu.Lock()
	stale := l.stale
	l.mu.Unlock()
	if stale {
		return errors.New("the log is read anew after a write whose outcome is unknown; trying again")
	}
	signer, err := l.writer.Key.Signer()
	if err != nil {
		return err
	}
	var entries []translog.Entry
	for _, s := range take {
		entries = append(entries, s.entries...)
	}
	batch, err := l.log.Next(entries, signer)
	if err != nil {
		return err
	}
	if err := l.writer.Client.Create(ctx, objectOf(l.namespace, batch)); err != nil {
		l.mu.Lock()
		l.stale = true
		l.mu.Unlock()
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("another writer appended batch %s first; reading the log anew: %w", batch.Name(), err)
		}
		return fmt.Errorf("creating audit batch %s: %w", batch.Name(), err)
	}
	if err := l.log.Append(batch); err != nil {
		return err
	}
	l.firsts = append(l.firsts, batch.First)
	l.checkpoint = batch.Checkpoint
	l.writer.Archiver.written(l.namespace)
	l.mu.Lock()
	defer l.mu.Unlock()
	index := batch.First
	for _, s := range take {
		for range s.entries {
			l.byUID[s.uid] = append(l.byUID[s.uid], index)
			index++
		}
	}
	return nil
}

// read returns the entries at indexes, from the batches that hold them.
func (l *namespaceLog) read(ctx context.Context, indexes []int64) ([]translog.Entry, error) {
	l.loadMu.Lock()
	firsts := slices.Clone(l.firsts)
	l.loadMu.Unlock()
	var out []translog.Entry
	batches := map[int64][][]byte{}
	for _, index := range indexes {
		at, _ := slices.BinarySearch(firsts, index+1)
		if at == 0 {
			return nil, fmt.Errorf("audit log of namespace %s: no batch holds entry %d", l.namespace, index)
		}
		first := firsts[at-1]
		lines, ok := batches[first]
		if !ok {
			obj := &securityv1alpha1.AuditBatch{}
			if err := l.writer.Reader.Get(ctx, types.NamespacedName{Namespace: l.namespace, Name: translog.BatchName(first)}, obj); err != nil {
				return nil, fmt.Errorf("reading audit batch %s/%s: %w", l.namespace, translog.BatchName(first), err)
			}
			b, err := BatchOf(obj)
			if err != nil {
				return nil, err
			}
			if lines, err = b.Lines(); err != nil {
				return nil, fmt.Errorf("audit batch %s/%s: %w", l.namespace, b.Name(), err)
			}
			batches[first] = lines
		}
		if index-first >= int64(len(lines)) {
			return nil, fmt.Errorf("audit log of namespace %s: batch %s does not hold entry %d", l.namespace, translog.BatchName(first), index)
		}
		e, err := translog.ParseEntry(lines[index-first])
		if err != nil {
			return nil, fmt.Errorf("audit log of namespace %s, entry %d: %w", l.namespace, index, err)
		}
		out = append(out, e)
	}
	return out, nil
}
