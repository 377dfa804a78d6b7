package archive

import (
	"context"
	"fmt"
	"sort"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/incidentops/incident-operator/internal/translog"
)

// Range is the part of an archived log whose entries fall in a time range,
// and what verifying it without the batches before it needs.
type Range struct {
	// Batches are the batches with an entry at or after the range's start
	// and before its end, in order.
	Batches []translog.Batch
	// Before is the batch before the first, whose checkpoint and hash the
	// range continues; nil when the range begins the log.
	Before *translog.Batch
	// After is the batch after the last; its checkpoint must extend the
	// range. Nil when the range ends the archive.
	After *translog.Batch
	// Size is the number of entries the archive holds: the end of its
	// last batch.
	Size int64
	// Hashes reads the stored hashes of the archive's tree, from its tiles
	// and its last batches.
	Hashes tlog.HashReader
}

// Start is where translog.VerifyRange begins the range: after Before, with
// the stored hashes before it read from the tiles. It is zero, the log's
// beginning, when there is no batch before.
func (r *Range) Start() translog.RangeStart {
	if r.Before == nil {
		return translog.RangeStart{}
	}
	return translog.RangeStart{Checkpoint: r.Before.Checkpoint, Previous: r.Before.Hash(), Hashes: r.Hashes}
}

// Read returns the batches of log whose entries' times fall in [from, to).
// It finds them by bisecting the batches on their first entries' times, so
// it reads about 2·log₂(batches) batches besides those returned, and none
// of the entries before the range: entry times must not go backwards,
// as the log's writer stamps them.
func Read(ctx context.Context, store Store, log string, from, to time.Time) (*Range, error) {
	r, _, err := readRange(ctx, store, log, from, to)
	return r, err
}

func readRange(ctx context.Context, store Store, log string, from, to time.Time) (*Range, *batchList, error) {
	list, err := listBatches(ctx, store, log)
	if err != nil {
		return nil, nil, err
	}
	n := len(list.firsts)
	if n == 0 {
		return nil, nil, fmt.Errorf("the archive holds no batches of log %s", log)
	}
	last, err := list.read(ctx, n-1)
	if err != nil {
		return nil, nil, err
	}
	r := &Range{Size: last.End()}
	tree := list.tree(ctx, r.Size)
	r.Hashes = tree
	// begin is the first batch whose first entry is at or after from, end
	// the first at or after to; the batch before begin may end in the range.
	begin, err := list.search(ctx, from)
	if err != nil {
		return nil, nil, err
	}
	end, err := list.search(ctx, to)
	if err != nil {
		return nil, nil, err
	}
	if begin > 0 {
		b, err := list.read(ctx, begin-1)
		if err != nil {
			return nil, nil, err
		}
		last, err := entryTime(b, -1)
		if err != nil {
			return nil, nil, err
		}
		if !last.Before(from) {
			begin--
		}
	}
	for i := begin; i < end; i++ {
		b, err := list.read(ctx, i)
		if err != nil {
			return nil, nil, err
		}
		r.Batches = append(r.Batches, b)
	}
	if begin > 0 {
		b, err := list.read(ctx, begin-1)
		if err != nil {
			return nil, nil, err
		}
		r.Before = &b
	}
	if end < n {
		b, err := list.read(ctx, end)
		if err != nil {
			return nil, nil, err
		}
		r.After = &b
	}
	return r, list, nil
}

// batchList is an archived log's batches, by first index, each read once.
type batchList struct {
	store   Store
	log     string
	keys    []string
	firsts  []int64
	decoded map[int]translog.Batch
}

func listBatches(ctx context.Context, store Store, log string) (*batchList, error) {
	keys, err := store.List(ctx, batchesPrefix(log))
	if err != nil {
		return nil, err
	}
	l := &batchList{store: store, log: log, keys: keys, decoded: map[int]translog.Batch{}}
	for _, key := range keys {
		first, err := batchFirst(log, key)
		if err != nil {
			return nil, err
		}
		l.firsts = append(l.firsts, first)
	}
	return l, nil
}

// read reads and decodes the i-th batch, which must begin at the index its
// name gives.
func (l *batchList) read(ctx context.Context, i int) (translog.Batch, error) {
	if b, ok := l.decoded[i]; ok {
		return b, nil
	}
	data, err := l.store.Get(ctx, l.keys[i])
	if err != nil {
		return translog.Batch{}, err
	}
	b, err := translog.DecodeBatch(data)
	if err != nil {
		return b, fmt.Errorf("%s: %w", l.keys[i], err)
	}
	if b.First != l.firsts[i] {
		return b, fmt.Errorf("%s holds a batch that begins at %d", l.keys[i], b.First)
	}
	l.decoded[i] = b
	return b, nil
}

// search is the first batch whose first entry's time is at or after t.
func (l *batchList) search(ctx context.Context, t time.Time) (int, error) {
	var err error
	i := sort.Search(len(l.firsts), func(i int) bool {
		if err != nil {
			return true
		}
		var b translog.Batch
		if b, err = l.read(ctx, i); err != nil {
			return true
		}
		var first time.Time
		first, err = entryTime(b, 0)
		return err != nil || !first.Before(t)
	})
	return i, err
}

// entryTime is the time of a batch's i-th entry, counted from the end when
// i is negative.
func entryTime(b translog.Batch, i int) (time.Time, error) {
	lines, err := b.Lines()
	if err != nil {
		return time.Time{}, fmt.Errorf("batch %s: %w", b.Name(), err)
	}
	if i < 0 {
		i += len(lines)
	}
	e, err := translog.ParseEntry(lines[i])
	if err != nil {
		return time.Time{}, fmt.Errorf("entry %d of batch %s: %w", b.First+int64(i), b.Name(), err)
	}
	return e.Time, nil
}

// tree is the archive's tree at size, a batch's end, with the entries after
// its last completed tile read from the batches that hold them.
func (l *batchList) tree(ctx context.Context, size int64) *tree {
	t := &tree{ctx: ctx, store: l.store, log: l.log, size: size}
	t.leaves = func() ([]tlog.Hash, error) {
		from := size - size%tileWidth
		// The last batch that begins before size, and those before it
		// down to the one that holds entry from.
		i := sort.Search(len(l.firsts), func(i int) bool { return l.firsts[i] >= size }) - 1
		for i > 0 && l.firsts[i] > from {
			i--
		}
		var leaves []tlog.Hash
		for next := from; next < size; i++ {
			if i < 0 || i >= len(l.firsts) {
				return nil, fmt.Errorf("no archived batch holds entry %d", next)
			}
			b, err := l.read(ctx, i)
			if err != nil {
				return nil, err
			}
			lines, err := b.Lines()
			if err != nil {
				return nil, fmt.Errorf("batch %s: %w", b.Name(), err)
			}
			if b.First > next || b.End() <= next {
				return nil, fmt.Errorf("no archived batch holds entry %d", next)
			}
			for _, line := range lines[next-b.First : min(b.End(), size)-b.First] {
				leaves = append(leaves, tlog.RecordHash(line))
			}
			next = min(b.End(), size)
		}
		return leaves, nil
	}
	return t
}
