package controllers

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/archive"
	"github.com/incidentops/incident-operator/internal/translog"
)

// AuditArchiver copies every namespace's audit log to a write-once
// archive (a directory, or an S3 bucket with Object Lock), batch by batch
// in the log's order, in the background: a slow or failing archive never
// holds an incident's reconcile. After a restart, or a failure, it goes on
// from what the archive holds, reading the batches after it by name.
type AuditArchiver struct {
	Writer *archive.Writer
	// Reader reads batches as stored.
	Reader client.Reader
	// Origin prefixes every namespace's log name, as AuditLog's does.
	Origin string
	// Namespaces, when set, are the only namespaces whose logs this
	// operator writes (--watch-namespaces), and so archives.
	Namespaces []string

	queue workqueue.TypedRateLimitingInterface[string]
}

// archiveRetry bounds the backoff of a namespace whose batches the
// archive refused.
const archiveRetry = time.Minute

func newAuditArchiver(a *AuditArchiver) *AuditArchiver {
	a.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Second, archiveRetry),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "audit-archive"})
	return a
}

// written asks for the archive of the namespace's batches written since.
func (a *AuditArchiver) written(namespace string) {
	if a != nil {
		a.queue.Add(namespace)
	}
}

// Start archives until ctx ends. Only the leader archives: it is the one
// that writes the logs.
func (a *AuditArchiver) Start(ctx context.Context) error {
	ctx = ctrl.LoggerInto(ctx, ctrl.LoggerFrom(ctx).WithName("audit-archive"))
	if err := a.catchUp(ctx); err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		a.queue.ShutDown()
	}()
	for {
		ns, shutdown := a.queue.Get()
		if shutdown {
			return nil
		}
		if err := a.archive(ctx, ns); err != nil && ctx.Err() == nil {
			ctrl.LoggerFrom(ctx).Error(err, "Archiving the audit log; trying again", "namespace", ns)
			a.queue.AddRateLimited(ns)
		} else {
			a.queue.Forget(ns)
		}
		a.queue.Done(ns)
	}
}

// catchUp asks for the archive of every namespace that has a log: what was
// written while no leader archived is archived now.
func (a *AuditArchiver) catchUp(ctx context.Context) error {
	if len(a.Namespaces) > 0 {
		// An operator that watches some namespaces archives their logs
		// only: another operator archives the others.
		for _, ns := range a.Namespaces {
			a.written(ns)
		}
		return nil
	}
	seen := map[string]bool{}
	for next := ""; ; {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(securityv1alpha1.GroupVersion.WithKind("AuditBatchList"))
		if err := a.Reader.List(ctx, list, client.Limit(500), client.Continue(next)); err != nil {
			return fmt.Errorf("listing the namespaces' audit logs to archive: %w", err)
		}
		for _, b := range list.Items {
			if !seen[b.Namespace] {
				seen[b.Namespace] = true
				a.written(b.Namespace)
			}
		}
		if next = list.Continue; next == "" {
			return nil
		}
	}
}

// archive appends to the archive the namespace's batches it lacks.
func (a *AuditArchiver) archive(ctx context.Context, ns string) error {
	origin := a.Origin + "/" + ns
	size, err := a.Writer.Size(ctx, origin)
	if err != nil {
		return fmt.Errorf("reading the archive of %s: %w", origin, err)
	}
	for {
		obj := &securityv1alpha1.AuditBatch{}
		err := a.Reader.Get(ctx, types.NamespacedName{Namespace: ns, Name: translog.BatchName(size)}, obj)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading audit batch %s/%s: %w", ns, translog.BatchName(size), err)
		}
		b, err := BatchOf(obj)
		if err != nil {
			return err
		}
		if err := a.Writer.Append(ctx, origin, b); err != nil {
			return fmt.Errorf("archiving audit batch %s/%s: %w", ns, b.Name(), err)
		}
		size = b.End()
	}
}
