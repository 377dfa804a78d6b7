package controllers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/incidentops/incident-operator/internal/archive"
	"github.com/incidentops/incident-operator/internal/witness"
)

// AuditWitness submits every namespace's newest checkpoint to a witness
// that another team runs (C2SP tlog-witness), on a schedule: the witness
// cosigns it only if it extends the last checkpoint it cosigned for that
// log, so that a log rewritten and signed again by whoever holds the log
// key is refused by the witness, and fails verification against the
// cosigned checkpoints the archive keeps.
type AuditWitness struct {
	Log *AuditLog
	// URL is the witness's submission prefix; Verifier its cosignature key.
	URL      string
	Verifier note.Verifier
	HTTP     *http.Client
	// Archive, when set, keeps each newly cosigned checkpoint.
	Archive *archive.Writer
	Clock   clock.Clock
	// Interval between submissions; a minute when zero. The witness
	// cosigns an unchanged checkpoint again, so that the time of the last
	// cosignature says the witness is alive.
	Interval time.Duration

	// witnessed is, by log, the size the witness last cosigned, and when.
	witnessed map[string]witnessedAt
}

type witnessedAt struct {
	size int64
	at   time.Time
}

// auditWitnessCosigned is when the log that went longest without one last
// got a cosigned checkpoint.
var auditWitnessCosigned = prometheus.NewGauge(prometheus.GaugeOpts{
	Name: "incidentops_audit_witness_cosigned_timestamp_seconds",
	Help: "When the namespace audit log that has gone longest without one last got its newest checkpoint cosigned by the witness (--audit-witness-url); 0 while no witness is configured or none has cosigned yet.",
})

func init() {
	metrics.Registry.MustRegister(auditWitnessCosigned)
}

// Start submits until ctx ends. Only the leader submits: it writes the logs.
func (w *AuditWitness) Start(ctx context.Context) error {
	ctx = ctrl.LoggerInto(ctx, ctrl.LoggerFrom(ctx).WithName("audit-witness"))
	w.witnessed = map[string]witnessedAt{}
	ticker := time.NewTicker(cmp.Or(w.Interval, time.Minute))
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		for _, l := range w.Log.loaded() {
			if err := w.submit(ctx, l); err != nil && ctx.Err() == nil {
				ctrl.LoggerFrom(ctx).Error(err, "Submitting the audit log's checkpoint to the witness", "namespace", l.namespace, "witness", w.URL)
			}
		}
		w.record()
	}
}

// record sets the metric to the oldest of the logs' last cosignatures.
func (w *AuditWitness) record() {
	var oldest time.Time
	for _, at := range w.witnessed {
		if oldest.IsZero() || at.at.Before(oldest) {
			oldest = at.at
		}
	}
	if !oldest.IsZero() {
		auditWitnessCosigned.Set(float64(oldest.UnixNano()) / 1e9)
	}
}

// submit asks the witness to cosign the log's newest checkpoint, proving
// that it extends the size the witness last cosigned.
func (w *AuditWitness) submit(ctx context.Context, l *namespaceLog) error {
	signed, size, prove := l.newest()
	if size == 0 {
		return nil
	}
	old := w.witnessed[l.origin].size
	for attempt := 0; ; attempt++ {
		proof, err := prove(old, size)
		if err != nil {
			return err
		}
		cosigned, err := witness.Submit(ctx, w.HTTP, w.URL, old, proof, signed)
		var conflict *witness.ConflictError
		switch {
		case errors.As(err, &conflict) && attempt == 0 && conflict.Size <= size:
			// The witness cosigned another size than this replica knows
			// of (a restart, or another leader): prove from there.
			old = conflict.Size
			continue
		case errors.As(err, &conflict):
			return fmt.Errorf("the witness has cosigned %d entries of %s, more than the %d this log holds: the log was cut back or rewritten: %w", conflict.Size, l.origin, size, err)
		case err != nil:
			return err
		}
		if _, err := witness.VerifyCosigned(cosigned, l.origin, w.Log.Key.Verifier(), []note.Verifier{w.Verifier}, 1); err != nil {
			return fmt.Errorf("the witness's answer does not verify: %w", err)
		}
		if w.Archive != nil && size > w.witnessed[l.origin].size {
			if err := w.Archive.KeepCosigned(ctx, l.origin, size, cosigned); err != nil {
				return err
			}
		}
		w.witnessed[l.origin] = witnessedAt{size: size, at: w.Clock.Now()}
		return nil
	}
}

// loaded are the namespaces' logs this writer holds.
func (a *AuditLog) loaded() []*namespaceLog {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*namespaceLog, 0, len(a.logs))
	for _, l := range a.logs {
		out = append(out, l)
	}
	return out
}

// newest is the log's newest signed checkpoint, its size, and a prover of
// consistency between two sizes up to it.
func (l *namespaceLog) newest() ([]byte, int64, func(old, size int64) (tlog.TreeProof, error)) {
	l.loadMu.Lock()
	defer l.loadMu.Unlock()
	if l.log == nil {
		return nil, 0, nil
	}
	log := l.log
	return l.checkpoint, log.Size(), func(old, size int64) (tlog.TreeProof, error) {
		l.loadMu.Lock()
		defer l.loadMu.Unlock()
		return log.ProveConsistency(old, size)
	}
}
