package archive

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/incidentops/incident-operator/internal/translog"
)

// Result is what verifying an archived range covered, read and took.
type Result struct {
	// Checkpoint is the newest checkpoint of the entries verified.
	Checkpoint translog.Checkpoint
	// First and End are the entries verified, First to End-1: the range's
	// batches and the batch after them, whose checkpoint extends them.
	First, End int64
	// Batches is how many batches were verified.
	Batches int
	// Size is how many entries the archive holds.
	Size int64
	// BytesRead is everything read from the store: the batches verified
	// and those the range was searched through, tiles and checkpoints.
	BytesRead int64
	Took      time.Duration
}

// check is one thing Verify checks besides what translog checks; tests
// turn one off to show which tampering it catches.
type check uint

const (
	// checkLog runs translog.VerifyRange on the range and checks that kept
	// checkpoints after it extend it and that no status points past the
	// archive's end.
	checkLog check = 1 << iota
	// checkTiles checks that the completed tiles over the range are there
	// and hold the hashes of its entries, and of the tiles below them.
	checkTiles
	// checkCheckpoints takes the archived checkpoints as kept ones: those
	// in the range, and the newest.
	checkCheckpoints

	allChecks = checkLog | checkTiles | checkCheckpoints
)

// Verify checks the batches of log in store whose entries' times fall in
// [from, to), without reading the entries before them: the batches as
// translog.VerifyRange checks them, continuing the batch before the range
// and with the tree before it read from the tiles (a deleted or changed
// tile there fails); the batch after the range, so that a cut at the
// range's end shows; the completed tiles over the range, which must be
// there and hold the hashes of its entries (a batch replaced after its
// tiles were written differs); the archived checkpoints in the range as
// kept checkpoints; and the newest archived checkpoint and opts.Kept after
// the range, which must extend it (a fork) and cover no more than the
// archive holds (its end cut off).
//
// A tampered archive fails with a *translog.BrokenError that names each
// problem by entry index, and by incident where the entries are there to
// say. The Result says what was verified, how many bytes were read and
// how long it took, whether or not it verified.
func Verify(ctx context.Context, store Store, log string, opts translog.VerifyOptions, from, to time.Time) (Result, error) {
	started := time.Now()
	counted := &counting{Store: store}
	res, err := verify(ctx, counted, log, opts, from, to, allChecks)
	res.BytesRead, res.Took = counted.read.Load(), time.Since(started)
	return res, err
}

// verification is one run of Verify.
type verification struct {
	ctx      context.Context
	store    Store
	log      string
	opts     translog.VerifyOptions
	batches  []translog.Batch
	tree     *tree
	res      Result
	problems []translog.Problem
	// missing are the tiles reported missing or damaged.
	missing map[tileID]bool
}

func verify(ctx context.Context, store Store, log string, opts translog.VerifyOptions, from, to time.Time, checks check) (Result, error) {
	if opts.Verifier == nil || opts.Origin == "" {
		return Result{}, errors.New("verifying an archive needs the log's origin and public key")
	}
	r, list, err := readRange(ctx, store, log, from, to)
	if err != nil {
		return Result{}, err
	}
	v := &verification{ctx: ctx, store: store, log: log, opts: opts, batches: r.Batches, tree: r.Hashes.(*tree), missing: map[tileID]bool{}}
	if r.After != nil {
		v.batches = append(slices.Clone(v.batches), *r.After)
	}
	v.res.Size = r.Size
	if len(v.batches) == 0 {
		return v.res, fmt.Errorf("the archive of %s holds no entries from %s on", log, from.UTC().Format(time.RFC3339))
	}
	if r.Before != nil {
		v.res.First = r.Before.End()
	}
	v.res.End, v.res.Batches = v.batches[len(v.batches)-1].End(), len(v.batches)

	kept, later := v.splitKept(opts.Kept)
	if checks&checkCheckpoints != 0 {
		archivedKept, archivedLater, err := v.archivedCheckpoints(list)
		if err != nil {
			return v.res, err
		}
		kept, later = append(kept, archivedKept...), append(later, archivedLater...)
	}
	if checks&checkLog != 0 {
		rangeOpts := opts
		rangeOpts.Kept, rangeOpts.Expect = kept, nil
		for _, x := range opts.Expect {
			if x.Last < v.res.End {
				rangeOpts.Expect = append(rangeOpts.Expect, x)
			}
		}
		newest, err := translog.VerifyRange(r.Start(), v.batches, rangeOpts)
		var broken *translog.BrokenError
		switch {
		case errors.As(err, &broken):
			v.problems = append(v.problems, broken.Problems...)
		case err != nil:
			return v.res, err
		}
		v.res.Checkpoint = newest
		v.extendedBy(newest, later)
		v.expectedInArchive()
	}
	if checks&checkTiles != 0 {
		v.tiles()
	}
	if len(v.problems) == 0 {
		return v.res, nil
	}
	slices.SortStableFunc(v.problems, func(a, b translog.Problem) int {
		return cmp.Or(cmp.Compare(a.Last, b.Last), cmp.Compare(b.Index, a.Index))
	})
	return v.res, &translog.BrokenError{Problems: v.problems}
}

func (v *verification) add(first, last int64, format string, args ...any) {
	v.problems = append(v.problems, translog.Problem{Index: first, Last: last, Incidents: v.incidents(first, last), Reason: fmt.Sprintf(format, args...)})
}

// splitKept divides signed checkpoints into those the range covers and
// those after it.
func (v *verification) splitKept(signed [][]byte) (in, after [][]byte) {
	for _, msg := range signed {
		c, err := translog.OpenCheckpoint(msg, v.opts.Origin, v.opts.Verifier)
		if err == nil && c.Size > v.res.End {
			after = append(after, msg)
		} else {
			in = append(in, msg) // VerifyRange reports one that does not open
		}
	}
	return in, after
}

// archivedCheckpoints reads the archived checkpoints from the range's start
// to its end, and the newest after it.
func (v *verification) archivedCheckpoints(list *batchList) (in, after [][]byte, err error) {
	keys, err := v.store.List(v.ctx, checkpointsPrefix(v.log))
	if err != nil {
		return nil, nil, err
	}
	var newest string
	for _, key := range keys {
		size, err := checkpointSize(v.log, key)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case size > v.res.End:
			newest = key
			continue
		case size < v.res.First:
			continue
		}
		msg, err := v.store.Get(v.ctx, key)
		if err != nil {
			return nil, nil, err
		}
		in = append(in, msg)
	}
	if newest != "" {
		msg, err := v.store.Get(v.ctx, newest)
		if err != nil {
			return nil, nil, err
		}
		after = append(after, msg)
	}
	return in, after, nil
}

// extendedBy checks that each checkpoint after the range extends the
// range's newest, with a proof from the archive's tiles, and covers no
// more than the archive holds.
func (v *verification) extendedBy(newest translog.Checkpoint, later [][]byte) {
	for _, msg := range later {
		c, err := translog.OpenCheckpoint(msg, v.opts.Origin, v.opts.Verifier)
		if err != nil {
			v.add(v.res.End-1, v.res.End-1, "a checkpoint after the range: %v", err)
			continue
		}
		if c.Size > v.res.Size {
			v.add(v.res.Size, c.Size-1, "missing: a checkpoint covers %d entries, the archive holds %d (its end was cut off)", c.Size, v.res.Size)
			continue
		}
		if err := translog.Extends(c, newest, v.tree); err != nil {
			v.add(v.res.First, v.res.End-1, "the checkpoint at size %d does not extend the range's at size %d: %v (the range or what follows it was rewritten: a fork)", c.Size, newest.Size, err)
		}
	}
}

// expectedInArchive checks that no status points past the archive's end:
// VerifyRange checks those that point into the range, and those that
// point between the range and the archive's end are not read.
func (v *verification) expectedInArchive() {
	for _, x := range v.opts.Expect {
		if x.Last >= v.res.Size {
			v.problems = append(v.problems, translog.Problem{
				Index: x.Last, Last: x.Last,
				Incidents: []string{who(x.Namespace, x.Incident, x.UID)},
				Reason:    fmt.Sprintf("missing: the incident's status points to entry %d, the archive holds %d entries (its end was cut off)", x.Last, v.res.Size),
			})
		}
	}
}

// tiles checks the completed tiles over the range: level 0 against the
// record hashes of the range's entries, each level above against the
// roots of the tiles below that were checked whole.
func (v *verification) tiles() {
	checked := map[tileID]int{} // hashes of a tile found as they should be
	for _, b := range v.batches {
		lines, err := b.Lines()
		if err != nil {
			continue // VerifyRange reports it
		}
		for n := b.First / tileWidth; n*tileWidth < b.End(); n++ {
			if !completed(0, n, v.res.Size) {
				break
			}
			tile, ok := v.tile(0, n)
			if !ok {
				continue
			}
			lo, hi := max(b.First, n*tileWidth), min(b.End(), (n+1)*tileWidth)
			differ := []int64{}
			for i := lo; i < hi; i++ {
				if tile[i%tileWidth] != tlog.RecordHash(lines[i-b.First]) {
					differ = append(differ, i)
				}
			}
			if len(differ) > 0 {
				v.add(differ[0], differ[len(differ)-1], "%s holds other hashes for these entries than batch %s (the batch was changed or replaced after its tiles were written: a fork)", tileKey(v.log, 0, n), b.Name())
				continue
			}
			checked[tileID{0, n}] += int(hi - lo)
		}
	}
	for level := 1; completed(level, 0, v.res.Size); level++ {
		for below, count := range checked {
			if below.level != level-1 || count != tileWidth {
				continue
			}
			n := below.n / tileWidth
			if !completed(level, n, v.res.Size) {
				continue
			}
			tile, ok := v.tile(level, n)
			if !ok {
				continue
			}
			lower, _ := v.tree.tile(below.level, below.n)
			if tile[below.n%tileWidth] != root(lower) {
				first, last := span(below.level, below.n)
				v.add(max(first, v.res.First), min(last, v.res.End-1), "%s does not hold the root of %s (a tile was changed)", tileKey(v.log, level, n), tileKey(v.log, below.level, below.n))
				continue
			}
			checked[tileID{level, n}]++
		}
	}
}

// tile reads a completed tile, reporting one that is missing or damaged
// once, for the entries of the range it covers.
func (v *verification) tile(level int, n int64) ([]tlog.Hash, bool) {
	tile, err := v.tree.tile(level, n)
	var broken *TileError
	switch {
	case errors.As(err, &broken):
		if !v.missing[tileID{level, n}] {
			v.missing[tileID{level, n}] = true
			v.add(max(broken.First, v.res.First), min(broken.Last, v.res.End-1), "%s", broken)
		}
		return nil, false
	case err != nil:
		v.add(v.res.First, v.res.End-1, "reading the tiles: %v", err)
		return nil, false
	}
	return tile, true
}

// incidents names the incidents of the range's entries first to last.
func (v *verification) incidents(first, last int64) []string {
	var names []string
	for _, b := range v.batches {
		if b.End() <= first || b.First > last {
			continue
		}
		lines, err := b.Lines()
		if err != nil {
			continue
		}
		for i := max(first, b.First); i <= last && i < b.End(); i++ {
			e, err := translog.ParseEntry(lines[i-b.First])
			if err != nil || (e.Incident == "" && e.UID == "") {
				continue
			}
			if name := who(e.Namespace, e.Incident, e.UID); !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	return names
}

// who names an incident as translog's problems do.
func who(namespace, name, uid string) string {
	return fmt.Sprintf("incident %s/%s uid %s", namespace, name, uid)
}
