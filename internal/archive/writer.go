package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"
	"k8s.io/utils/clock"

	"github.com/incidentops/incident-operator/internal/translog"
)

// Writer archives the batches of logs, each after the one before it.
//
// For each batch it writes, in this order, the tiles the batch completes,
// the batch, and its checkpoint, so that a batch is archived only with its
// tiles, and a failed Append is repaired by appending the same batch
// again. Writing what is archived already succeeds when the bytes are the
// same; different bytes fail with an error naming the key: the log the
// writer was given forks from the one archived.
type Writer struct {
	store Store
	// retention is how long each object is locked for, from when it is
	// written; zero locks nothing.
	retention time.Duration
	clock     clock.PassiveClock

	mu   sync.Mutex
	logs map[string]*archived
}

// archived is what the writer knows of a log's archive: its tree, whose
// size is the entries archived, and the hash of its last batch.
type archived struct {
	tree *tree
	last tlog.Hash
}

// NewWriter archives to store, locking each object for retention from the
// time clock gives when it is written.
func NewWriter(store Store, retention time.Duration, clock clock.PassiveClock) *Writer {
	return &Writer{store: store, retention: retention, clock: clock, logs: map[string]*archived{}}
}

// Size is the number of entries of log that the archive holds: the index
// of the first entry of the next batch to append.
func (w *Writer) Size(ctx context.Context, log string) (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	a, err := w.archived(ctx, log)
	if err != nil {
		return 0, err
	}
	return a.tree.size, nil
}

// Append archives b, the next batch of log (the log's origin), or checks
// that the archived batch at its index is the same.
func (w *Writer) Append(ctx context.Context, log string, b translog.Batch) error {
	if err := checkKey(log, false); err != nil {
		return fmt.Errorf("log name: %w", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	a, err := w.archived(ctx, log)
	if err != nil {
		return err
	}
	switch size := a.tree.size; {
	case b.First < size:
		return w.again(ctx, log, b)
	case b.First > size:
		return fmt.Errorf("the archive of %s holds %d entries, batch %s begins at %d: archive the batches before it first", log, size, b.Name(), b.First)
	case b.Previous != a.last:
		return fmt.Errorf("batch %s does not link to the last archived batch of %s: it does not continue the archived log (a fork)", b.Name(), log)
	}
	lines, err := b.Lines()
	if err != nil {
		return fmt.Errorf("batch %s: %w", b.Name(), err)
	}
	next := a.tree.clone()
	var tiles []completedTile
	for _, line := range lines {
		tiles = append(tiles, next.add(tlog.RecordHash(line))...)
	}
	root, err := tlog.TreeHash(next.size, next)
	if err != nil {
		return err
	}
	if root != b.Root {
		return fmt.Errorf("batch %s records a root its entries do not give after the archived log of %s: it does not continue the archived log (a fork, or a changed entry)", b.Name(), log)
	}
	retain := w.retainUntil()
	for _, t := range tiles {
		if err := w.create(ctx, tileKey(log, t.level, t.n), t.data(), retain); err != nil {
			return err
		}
	}
	if err := w.create(ctx, batchKey(log, b.First), b.Encode(), retain); err != nil {
		return err
	}
	if err := w.create(ctx, checkpointKey(log, b.End()), b.Checkpoint, retain); err != nil {
		return err
	}
	w.logs[log] = &archived{tree: next, last: b.Hash()}
	return nil
}

// again checks a batch that begins inside the archived log against the
// batch archived at its index, and writes its checkpoint if a failed
// Append left it out.
func (w *Writer) again(ctx context.Context, log string, b translog.Batch) error {
	key := batchKey(log, b.First)
	stored, err := w.store.Get(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("batch %s begins inside the archived log of %s, where no batch begins (a fork)", b.Name(), log)
	}
	if err != nil {
		return err
	}
	if !bytes.Equal(stored, b.Encode()) {
		return fmt.Errorf("%s is archived with other bytes than the batch given (a fork)", key)
	}
	return w.create(ctx, checkpointKey(log, b.End()), b.Checkpoint, w.retainUntil())
}

// create writes key once: an object already there with the same bytes is
// written; one with other bytes is evidence of a fork.
func (w *Writer) create(ctx context.Context, key string, data []byte, retain time.Time) error {
	err := w.store.Create(ctx, key, data, retain)
	if !errors.Is(err, ErrExists) {
		return err
	}
	stored, err := w.store.Get(ctx, key)
	if err != nil {
		return err
	}
	if !bytes.Equal(stored, data) {
		return fmt.Errorf("%s is archived with other bytes (a fork, or a changed archive)", key)
	}
	return nil
}

func (w *Writer) retainUntil() time.Time {
	if w.retention <= 0 {
		return time.Time{}
	}
	return w.clock.Now().Add(w.retention)
}

// archived is what the archive holds of log, read back the first time the
// writer appends to it: its last batch, and the tree's edges from the
// tiles and the last batches, which must give the last batch's root.
func (w *Writer) archived(ctx context.Context, log string) (*archived, error) {
	if a, ok := w.logs[log]; ok {
		return a, nil
	}
	batches, err := listBatches(ctx, w.store, log)
	if err != nil {
		return nil, err
	}
	a := &archived{tree: &tree{ctx: ctx, store: w.store, log: log}}
	if len(batches.firsts) > 0 {
		last, err := batches.read(ctx, len(batches.firsts)-1)
		if err != nil {
			return nil, err
		}
		a.tree = batches.tree(ctx, last.End())
		if err := a.tree.readEdges(); err != nil {
			return nil, fmt.Errorf("reading the archive of %s: %w", log, err)
		}
		root, err := tlog.TreeHash(last.End(), a.tree)
		if err != nil {
			return nil, err
		}
		if root != last.Root {
			return nil, fmt.Errorf("the archive of %s is damaged: its tiles and last batches do not give the root of its last batch, %s; verify it", log, last.Name())
		}
		a.last = last.Hash()
	}
	// The tree outlives this call; it reads nothing more from the store.
	a.tree.ctx, a.tree.tiles, a.tree.leaves = nil, nil, nil
	w.logs[log] = a
	return a, nil
}

// KeepCosigned keeps the checkpoint at size of log as a witness cosigned
// it (the log's signature and the witness's), once: a later cosignature of
// the same size is not kept. An auditor reads the newest with Cosigned.
func (w *Writer) KeepCosigned(ctx context.Context, log string, size int64, cosigned []byte) error {
	if err := checkKey(log, false); err != nil {
		return fmt.Errorf("log name: %w", err)
	}
	err := w.store.Create(ctx, cosignedKey(log, size), cosigned, w.retainUntil())
	if err != nil && !errors.Is(err, ErrExists) {
		return fmt.Errorf("keeping the cosigned checkpoint of %s at size %d: %w", log, size, err)
	}
	return nil
}

// Cosigned is the newest checkpoint of log that a witness cosigned, as
// KeepCosigned kept it; nil when there is none.
func Cosigned(ctx context.Context, store Store, log string) ([]byte, error) {
	keys, err := store.List(ctx, cosignedPrefix(log))
	if err != nil {
		return nil, fmt.Errorf("listing the cosigned checkpoints of %s: %w", log, err)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	return store.Get(ctx, keys[len(keys)-1])
}
