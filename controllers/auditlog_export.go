package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/auditexport"
	"github.com/incidentops/incident-operator/internal/notify"
	"github.com/incidentops/incident-operator/internal/translog"
)

// +kubebuilder:rbac:groups=security.incidentops.io,resources=auditbatches,verbs=list;watch

// AuditSink streams the namespaces' audit logs, as JSON lines, to a store
// outside the cluster (a SIEM's HTTP collector), so that deleting or
// rewriting objects in the cluster cannot hide what the log said. Each line
// is an entry as the log hashes it (its leaf), so that the sink can check
// it against the log's checkpoints. Delivery is at least once: each batch
// carries an idempotency key naming its namespace and index range.
type AuditSink struct {
	HTTP   *notify.HTTP
	Target notify.WebhookTarget
}

// Export sends a batch's entries as the log holds them.
func (s *AuditSink) Export(ctx context.Context, b auditexport.Batch, now time.Time) error {
	return s.HTTP.SendLines(ctx, s.Target, b.Key(), []byte(b.Entries), now)
}

// AuditExportCursors names the ConfigMap, in the operator's namespace,
// that records where each namespace's export resumes: its keys are
// namespaces, its values the index of the first entry the sink has not
// acknowledged.
const AuditExportCursors = "incident-operator-audit-export"

const (
	// auditExporters is how many namespaces' batches are sent at once. A
	// sink that hangs holds these and nothing else.
	auditExporters = 4
	// auditExportRetry bounds a namespace's backoff, from a second, while
	// the sink refuses its batches or does not answer.
	auditExportRetry = 30 * time.Second
	// auditExportTurn is how many batches a namespace sends before the
	// others waiting get a sender.
	auditExportTurn = 16
	// auditExportCursorsEvery is how often the cursors are stored, when
	// they moved; and once more when the export stops.
	auditExportCursorsEvery = 5 * time.Second
	// auditExportHold bounds the entries held in memory for batches not
	// sent yet; those beyond are read again when their turn comes.
	auditExportHold = 32 << 20
)

// AuditExporter is the audit sink's controller: it watches the namespaces'
// audit logs (AuditBatch objects) and sends every batch to the sink, in
// each namespace's order, with a backoff of its own for each namespace.
// Nothing else waits for it: no reconcile, status write or deletion, and a
// sink that fails or hangs holds only the exporter's few senders.
//
// Where each namespace's export has got to is stored every few seconds and
// when the exporter stops (AuditExportCursors), and an export that starts
// goes on from there: entries after it may be sent again, which their
// idempotency key lets the sink drop. Only the leader exports.
type AuditExporter struct {
	Sink *AuditSink
	// Watch makes the exporter's own cache, which holds each batch's name
	// and size only: the entries of those not sent yet are kept by the
	// exporter, within a budget, and the others are not kept at all.
	Watch func(cache.Options) (cache.Cache, error)
	// Reader reads batches and the cursors as stored; Writer stores the
	// cursors.
	Reader client.Reader
	Writer client.Writer
	// Namespace is the operator's own, which holds the cursors.
	Namespace string
	// Namespaces are the only namespaces exported, or empty for all.
	Namespaces []string
	Clock      clock.Clock
	Events     eventRecorder

	ledger  *auditexport.Ledger
	queue   workqueue.TypedDelayingInterface[string]
	backoff workqueue.TypedRateLimiter[string]
	log     logr.Logger
	// stored is the ledger's version of the cursors last stored.
	stored uint64
}

func newAuditExporter(e *AuditExporter) *AuditExporter {
	e.ledger = &auditexport.Ledger{Hold: auditExportHold}
	e.queue = workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[string]{Name: "audit-export"})
	e.backoff = workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, auditExportRetry)
	e.log = logr.Discard()
	return e
}

// exportingNow is the exporter at work, whose lag the metrics report.
var exportingNow atomic.Pointer[AuditExporter]

// exportLag is how many entries the sink has not acknowledged; 0 when no
// exporter is at work.
func exportLag() float64 {
	if e := exportingNow.Load(); e != nil {
		return float64(e.ledger.Lag())
	}
	return 0
}

// Start exports until ctx ends, then stores the cursors.
func (e *AuditExporter) Start(ctx context.Context) error {
	e.log = ctrl.LoggerFrom(ctx).WithName("audit-export")
	ctx = ctrl.LoggerInto(ctx, e.log)
	cursors, err := e.readCursors(ctx)
	if err != nil {
		return err
	}
	e.ledger.Resume(cursors)
	watch, err := e.watch(ctx)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := watch.Start(ctx); err != nil {
			e.log.Error(err, "Watching the audit logs")
		}
	})
	if !watch.WaitForCacheSync(ctx) {
		e.queue.ShutDown()
		wg.Wait()
		return nil
	}
	for _, ns := range e.ledger.Synced() {
		e.log.Info("The stored cursor does not fall between two batches of the namespace's audit log, so it was an earlier log's (the namespace was made again): exporting the log from its start", "namespace", ns)
	}
	for _, ns := range e.ledger.Namespaces() {
		e.queue.Add(ns)
	}
	exportingNow.Store(e)
	defer exportingNow.CompareAndSwap(e, nil)
	for range auditExporters {
		wg.Go(func() {
			for e.next(ctx) {
			}
		})
	}
	wg.Go(func() { e.storeEvery(ctx) })
	<-ctx.Done()
	e.queue.ShutDown()
	wg.Wait()
	stopping, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := e.storeCursors(stopping); err != nil {
		e.log.Error(err, "Storing where the audit export resumes; the next export sends again what came after the cursors stored before")
	}
	return nil
}

// watch makes the exporter's cache of the batches. Its transform hands
// every batch the watch delivers (added, listed again, or deleted: its
// final state) to the ledger, and keeps only its name and first index.
func (e *AuditExporter) watch(ctx context.Context) (cache.Cache, error) {
	opts := cache.Options{ByObject: map[client.Object]cache.ByObject{&securityv1alpha1.AuditBatch{}: {Transform: e.observe}}}
	if len(e.Namespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range e.Namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	c, err := e.Watch(opts)
	if err != nil {
		return nil, fmt.Errorf("watching the audit logs to export: %w", err)
	}
	informer, err := c.GetInformer(ctx, &securityv1alpha1.AuditBatch{})
	if err != nil {
		return nil, fmt.Errorf("watching the audit logs to export: %w", err)
	}
	_, err = informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { e.wake(obj) },
		UpdateFunc: func(_, obj any) { e.wake(obj) },
		DeleteFunc: e.forget,
	})
	if err != nil {
		return nil, fmt.Errorf("watching the audit logs to export: %w", err)
	}
	return c, nil
}

// observe is the cache's transform of a batch.
func (e *AuditExporter) observe(obj any) (any, error) {
	b, ok := obj.(*securityv1alpha1.AuditBatch)
	if !ok {
		return obj, nil
	}
	e.ledger.Observe(auditexport.Of(b.Namespace, string(b.UID), b.Spec.First, b.Spec.Entries))
	return &securityv1alpha1.AuditBatch{
		ObjectMeta: metav1.ObjectMeta{Namespace: b.Namespace, Name: b.Name, UID: b.UID, ResourceVersion: b.ResourceVersion},
		Spec:       securityv1alpha1.AuditBatchSpec{First: b.Spec.First},
	}, nil
}

// wake asks for the export of the batch's namespace, unless the sink
// refuses it: the namespace's backoff then decides when it is tried.
func (e *AuditExporter) wake(obj any) {
	if b, ok := obj.(*securityv1alpha1.AuditBatch); ok && !e.ledger.Failing(b.Namespace) {
		e.queue.Add(b.Namespace)
	}
}

// forget records a batch's deletion, as when its namespace is deleted. A
// batch the sink lacks is still sent when the exporter holds its entries;
// beyond its budget it is not: the archive (--audit-archive), not the
// sink, is what keeps the log durably.
func (e *AuditExporter) forget(obj any) {
	if tombstone, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	b, ok := obj.(*securityv1alpha1.AuditBatch)
	if !ok {
		return
	}
	if e.ledger.Forget(b.Namespace, b.Spec.First, string(b.UID)) {
		e.log.Info("An audit batch was deleted before it was exported, and its entries were not held: the audit sink will not have them; the archive keeps the log", "namespace", b.Namespace, "batch", b.Name)
	}
	e.wake(b)
}

// next exports one namespace's batches; false once the queue shuts down.
func (e *AuditExporter) next(ctx context.Context) bool {
	ns, shutdown := e.queue.Get()
	if shutdown {
		return false
	}
	defer e.queue.Done(ns)
	failed, err := e.export(ctx, ns)
	switch {
	case err == nil:
		e.backoff.Forget(ns)
	case ctx.Err() != nil:
	default:
		auditExportFailures.Inc()
		retry := e.backoff.When(ns)
		if e.ledger.Failed(ns) {
			e.log.Error(err, "Exporting the audit log; trying again with a backoff until the sink takes it", "namespace", ns, "retry", retry)
			batch := &securityv1alpha1.AuditBatch{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: translog.BatchName(failed.First), UID: types.UID(failed.UID)}}
			e.Events.warning(batch, EventAuditNotExported, "ExportAudit", "%v; the namespace's entries from %d on are sent again with a backoff of up to %s (incidentops_audit_export_lag_entries counts them)", err, failed.First, auditExportRetry)
		}
		e.queue.AddAfter(ns, retry)
	}
	return true
}

// export sends the namespace's batches from its cursor, a turn's worth,
// and returns the batch it could not send.
func (e *AuditExporter) export(ctx context.Context, ns string) (auditexport.Batch, error) {
	for range auditExportTurn {
		b, skipped, ok := e.ledger.Next(ns)
		for _, r := range skipped {
			e.log.Info("Audit entries were deleted before they were exported: the audit sink will not have them; the archive keeps the log", "namespace", ns, "first", r.First, "last", r.End-1)
		}
		if !ok {
			return b, nil
		}
		if b.Entries == "" {
			read, err := e.read(ctx, b)
			if apierrors.IsNotFound(err) {
				e.log.Info("An audit batch was deleted before it was exported: the audit sink will not have it; the archive keeps the log", "namespace", ns, "batch", translog.BatchName(b.First))
				e.ledger.Lost(b)
				continue
			}
			if err != nil {
				return b, err
			}
			b = read
		}
		if err := e.Sink.Export(ctx, b, e.Clock.Now()); err != nil {
			return b, fmt.Errorf("the audit sink did not take entries %d-%d of the audit log of namespace %s: %w", b.First, b.End-1, ns, err)
		}
		if e.ledger.Sent(b) {
			e.log.Info("The audit sink takes the namespace's entries again", "namespace", ns)
		}
	}
	e.queue.Add(ns)
	return auditexport.Batch{}, nil
}

// read reads a batch the exporter does not hold; not found when it was
// deleted, or another log's batch has its name now.
func (e *AuditExporter) read(ctx context.Context, b auditexport.Batch) (auditexport.Batch, error) {
	key := types.NamespacedName{Namespace: b.Namespace, Name: translog.BatchName(b.First)}
	obj := &securityv1alpha1.AuditBatch{}
	if err := e.Reader.Get(ctx, key, obj); err != nil {
		return b, fmt.Errorf("reading audit batch %s to export it: %w", key, err)
	}
	if string(obj.UID) != b.UID {
		return b, apierrors.NewNotFound(securityv1alpha1.GroupVersion.WithResource("auditbatches").GroupResource(), key.Name)
	}
	return auditexport.Of(b.Namespace, b.UID, obj.Spec.First, obj.Spec.Entries), nil
}

// readCursors reads where each exported namespace's export resumes.
func (e *AuditExporter) readCursors(ctx context.Context) (map[string]int64, error) {
	cm := &corev1.ConfigMap{}
	err := e.Reader.Get(ctx, types.NamespacedName{Namespace: e.Namespace, Name: AuditExportCursors}, cm)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading where the audit export resumes, ConfigMap %s/%s: %w", e.Namespace, AuditExportCursors, err)
	}
	cursors := map[string]int64{}
	for ns, value := range cm.Data {
		if len(e.Namespaces) > 0 && !slices.Contains(e.Namespaces, ns) {
			continue
		}
		next, err := strconv.ParseInt(value, 10, 64)
		if err != nil || next < 0 {
			e.log.Info("The stored cursor is not an index: exporting the namespace's audit log from its start", "namespace", ns, "cursor", value)
			continue
		}
		cursors[ns] = next
	}
	return cursors, nil
}

// storeEvery stores the cursors every few seconds, when they moved.
func (e *AuditExporter) storeEvery(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.Clock.After(auditExportCursorsEvery):
		}
		if err := e.storeCursors(ctx); err != nil && ctx.Err() == nil {
			e.log.Error(err, "Storing where the audit export resumes; trying again")
		}
	}
}

// storeCursors writes the cursors of the namespaces exported into the
// ConfigMap, removes those of namespaces whose logs went, and leaves the
// others' (another operator's, watching other namespaces) alone.
func (e *AuditExporter) storeCursors(ctx context.Context) error {
	cursors, gone, version := e.ledger.Cursors()
	if version == e.stored {
		return nil
	}
	key := types.NamespacedName{Namespace: e.Namespace, Name: AuditExportCursors}
	cm := &corev1.ConfigMap{}
	err := e.Reader.Get(ctx, key, cm)
	switch {
	case apierrors.IsNotFound(err):
		if len(cursors) > 0 {
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}, Data: cursorData(nil, cursors, gone)}
			err = e.Writer.Create(ctx, cm)
		} else {
			err = nil
		}
	case err == nil:
		if data := cursorData(cm.Data, cursors, gone); !maps.Equal(data, cm.Data) {
			cm.Data = data
			err = e.Writer.Update(ctx, cm)
		}
	}
	if err != nil {
		return fmt.Errorf("storing where the audit export resumes in ConfigMap %s: %w", key, err)
	}
	e.ledger.Stored(gone)
	e.stored = version
	return nil
}

// cursorData is data with the cursors set and the gone namespaces removed.
func cursorData(data map[string]string, cursors map[string]int64, gone []string) map[string]string {
	out := maps.Clone(data)
	if out == nil {
		out = map[string]string{}
	}
	for ns, next := range cursors {
		out[ns] = strconv.FormatInt(next, 10)
	}
	for _, ns := range gone {
		delete(out, ns)
	}
	return out
}

// addAuditExporter runs the export of the logs to the audit sink, when
// the options name one.
func addAuditExporter(mgr ctrl.Manager, opts Options, http *notify.HTTP, events eventRecorder) (*AuditExporter, error) {
	if opts.AuditSink == nil {
		return nil, nil
	}
	e := newAuditExporter(&AuditExporter{
		Sink: &AuditSink{HTTP: http, Target: *opts.AuditSink},
		Watch: func(o cache.Options) (cache.Cache, error) {
			o.HTTPClient, o.Scheme, o.Mapper = mgr.GetHTTPClient(), mgr.GetScheme(), mgr.GetRESTMapper()
			return cache.New(mgr.GetConfig(), o)
		},
		Reader: mgr.GetAPIReader(), Writer: mgr.GetClient(),
		Namespace: opts.OperatorNamespace, Namespaces: opts.WatchNamespaces,
		Clock: opts.Clock, Events: events,
	})
	return e, mgr.Add(e)
}
