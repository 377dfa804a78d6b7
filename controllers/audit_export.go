package controllers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/notify"
	"github.com/incidentops/incident-operator/internal/translog"
)

// AuditSink streams audit entries, as JSON lines, to a store outside the
// cluster (a SIEM's HTTP collector), so that deleting or rewriting objects
// in the cluster cannot hide what the log said. Each line is an entry as
// the log hashes it (its leaf), so that the sink can check it against the
// log's checkpoints. Delivery is at least once: each batch carries an
// idempotency key naming the incident and the ordinals of its entries it
// holds, and status.audit.exported advances only on success.
type AuditSink struct {
	HTTP   *notify.HTTP
	Target notify.WebhookTarget
}

// Export sends entries of one incident, the first of them its entry of
// ordinal first.
func (s *AuditSink) Export(ctx context.Context, uid types.UID, first int64, entries []translog.Entry, now time.Time) error {
	var body bytes.Buffer
	for _, e := range entries {
		line, err := e.Line()
		if err != nil {
			return err
		}
		body.Write(line)
		body.WriteByte('\n')
	}
	key := fmt.Sprintf("%s/%d-%d", uid, first, first+int64(len(entries))-1)
	return s.HTTP.SendLines(ctx, s.Target, key, body.Bytes(), now)
}

// auditSinkRetry is the longest an incident waits before its unexported
// entries are sent again; failures back off from a second up to it.
const auditSinkRetry = 30 * time.Second

// auditExporters is how many incidents' entries are sent to the sink at
// once. A sink that hangs holds these and nothing else.
const auditExporters = 4

// auditExport names an incident whose entries are to be exported.
type auditExport struct {
	namespace, name string
	uid             types.UID
}

// AuditExporter sends incidents' audit entries to the audit sink in the
// background, a few incidents at a time with a backoff of its own, so that
// a sink that is slow or hangs never holds a status write or a reconcile
// worker. It reads what to send from the trail, which is written before
// the status that caused it. What the sink acknowledged is recorded as
// status.audit.exported by the incident's next status write, which the
// exporter asks for by waking the incident; an operator that restarts
// before then exports those entries again, as at-least-once allows, and
// every reconcile asks for the export of what status says is not exported,
// so nothing in the trail is left unexported across a restart.
type AuditExporter struct {
	Sink *AuditSink
	// Reader reads incidents, from the cache.
	Reader client.Reader
	Log    *AuditLog
	Clock  clock.Clock
	Events eventRecorder
	// Wakeups bring the incident back to record what the sink took.
	Wakeups *incidentWakeups

	queue   workqueue.TypedDelayingInterface[auditExport]
	backoff workqueue.TypedRateLimiter[auditExport]
	mu      sync.Mutex
	// acked is, by incident, the last sequence the sink acknowledged that
	// the incident's status may not show yet.
	acked map[types.UID]int64
}

func newAuditExporter(e *AuditExporter) *AuditExporter {
	e.queue = workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[auditExport]{Name: "audit-export"})
	e.backoff = workqueue.NewTypedItemExponentialFailureRateLimiter[auditExport](time.Second, auditSinkRetry)
	e.acked = map[types.UID]int64{}
	return e
}

// Start exports until ctx ends. Only the leader exports: it is the one
// that writes the trails.
func (e *AuditExporter) Start(ctx context.Context) error {
	ctx = ctrl.LoggerInto(ctx, ctrl.LoggerFrom(ctx).WithName("audit-export"))
	var wg sync.WaitGroup
	for range auditExporters {
		wg.Go(func() {
			for e.next(ctx) {
			}
		})
	}
	<-ctx.Done()
	e.queue.ShutDown()
	wg.Wait()
	return nil
}

// exportLater asks for the export of what the incident's status says the
// sink has not acknowledged.
func (e *AuditExporter) exportLater(incident *securityv1alpha1.Incident) {
	if e == nil || e.exportedThrough(incident) {
		return
	}
	e.queue.Add(auditExport{namespace: incident.Namespace, name: incident.Name, uid: incident.UID})
}

// auditExportRecheck is how soon an incident whose trail the sink has not
// acknowledged to its head is looked at again, to record the
// acknowledgement even if no wakeup brings it back.
const auditExportRecheck = time.Minute

// recheck is when to look at the incident again to record its export;
// zero when the sink has acknowledged its whole trail.
func (e *AuditExporter) recheck(incident *securityv1alpha1.Incident) time.Duration {
	if e.exportedThrough(incident) {
		return 0
	}
	return auditExportRecheck
}

// errNotExported is the error of a deletion that waits for the audit sink.
var errNotExported = errors.New("the audit sink has not acknowledged the trail's last entries yet")

// await asks for the incident's export and waits up to bound for the sink
// to acknowledge the trail to its head; a sink that is slower is not waited
// for, and the error says so.
func (e *AuditExporter) await(ctx context.Context, incident *securityv1alpha1.Incident, bound time.Duration) error {
	if e.exportedThrough(incident) {
		return nil
	}
	e.exportLater(incident)
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	err := wait.PollUntilContextCancel(ctx, 10*time.Millisecond, false, func(context.Context) (bool, error) {
		return e.exportedThrough(incident), nil
	})
	if err != nil {
		return errNotExported
	}
	return nil
}

// exportedThrough is true when the sink acknowledged the incident's
// entries up to the last its status counts, in status or since.
func (e *AuditExporter) exportedThrough(incident *securityv1alpha1.Incident) bool {
	trail := incident.Status.Audit
	if e == nil || trail == nil || trail.Log == nil {
		return true
	}
	exported, ok := e.exported(incident)
	return ok && exported >= trail.Log.Entries-1
}

// exported is the ordinal of the incident's last entry the sink
// acknowledged, as status says or as acknowledged since.
func (e *AuditExporter) exported(incident *securityv1alpha1.Incident) (int64, bool) {
	seq, ok := int64(-1), false
	if trail := incident.Status.Audit; trail != nil && trail.Exported != nil {
		seq, ok = *trail.Exported, true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if acked, known := e.acked[incident.UID]; known && acked > seq {
		seq, ok = acked, true
	}
	return seq, ok
}

// recordExported writes into the incident's status what the sink
// acknowledged since its last status write.
func (e *AuditExporter) recordExported(incident *securityv1alpha1.Incident) {
	if e == nil || incident.Status.Audit == nil {
		return
	}
	if seq, ok := e.exported(incident); ok {
		incident.Status.Audit.Exported = ptr.To(seq)
	}
}

// stored forgets what the incident's stored status now shows.
func (e *AuditExporter) stored(incident *securityv1alpha1.Incident) {
	if e == nil || incident.Status.Audit == nil || incident.Status.Audit.Exported == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if acked, ok := e.acked[incident.UID]; ok && acked <= *incident.Status.Audit.Exported {
		delete(e.acked, incident.UID)
	}
}

// next exports one incident's entries; false once the queue shuts down.
func (e *AuditExporter) next(ctx context.Context) bool {
	req, shutdown := e.queue.Get()
	if shutdown {
		return false
	}
	defer e.queue.Done(req)
	incident, err := e.export(ctx, req)
	if err == nil {
		e.backoff.Forget(req)
		return true
	}
	if ctx.Err() != nil {
		return true
	}
	retry := e.backoff.When(req)
	if incident != nil {
		e.Events.warning(incident, EventAuditNotExported, "ExportAudit", "%v; trying again in %s", err, retry)
	} else {
		ctrl.LoggerFrom(ctx).Error(err, "Exporting audit entries; trying again", "incident", req.namespace+"/"+req.name, "retry", retry)
	}
	e.queue.AddAfter(req, retry)
	return true
}

// export sends the incident's entries in the log after the last one the
// sink acknowledged, and wakes the incident to record the acknowledgement.
func (e *AuditExporter) export(ctx context.Context, req auditExport) (*securityv1alpha1.Incident, error) {
	incident := &securityv1alpha1.Incident{}
	if err := e.Reader.Get(ctx, types.NamespacedName{Namespace: req.namespace, Name: req.name}, incident); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	if incident.UID != req.uid {
		return nil, nil
	}
	subject, err := subjectIn(ctx, e.Reader, incident)
	if err != nil {
		return incident, err
	}
	// The log may hold more than the status counts (the status write of a
	// reconcile, or of a deletion, is still to come): everything stored is
	// sent.
	first := int64(0)
	if seq, ok := e.exported(incident); ok {
		first = seq + 1
	}
	pending, err := e.Log.Stored(ctx, subject, first)
	if err != nil {
		return incident, err
	}
	if len(pending) == 0 {
		return incident, nil
	}
	last := first + int64(len(pending)) - 1
	if err := e.Sink.Export(ctx, incident.UID, first, pending, e.Clock.Now()); err != nil {
		return incident, fmt.Errorf("exporting the incident's audit entries %d-%d to the audit sink: %w", first, last, err)
	}
	e.mu.Lock()
	e.acked[incident.UID] = last
	e.mu.Unlock()
	e.Wakeups.wake(incident.Namespace, incident.Name)
	return incident, nil
}
