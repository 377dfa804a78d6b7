package archive

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/incidentops/incident-operator/internal/translog"
)

func TestReadReturnsTheBatchesOfARange(t *testing.T) {
	ctx := context.Background()
	f := newArchiveFixture(t)
	s := newDirStore(t)
	archive(t, s, f.batches)

	r, err := Read(ctx, s, testOrigin, month(4), month(5))
	if err != nil {
		t.Fatal(err)
	}
	april := overlapping(t, f.batches, month(4), month(5))
	first, last := april[0], april[len(april)-1]
	if len(r.Batches) != last-first+1 || r.Batches[0].First != f.batches[first].First || r.Batches[len(r.Batches)-1].First != f.batches[last].First {
		t.Errorf("read batches %s to %s, want %s to %s", r.Batches[0].Name(), r.Batches[len(r.Batches)-1].Name(), f.batches[first].Name(), f.batches[last].Name())
	}
	if r.Before == nil || r.Before.First != f.batches[first-1].First || r.After == nil || r.After.First != f.batches[last+1].First {
		t.Errorf("before %v, after %v, want %s and %s", r.Before != nil, r.After != nil, f.batches[first-1].Name(), f.batches[last+1].Name())
	}
	// What the range starts from verifies it without the batches before.
	opts := f.options()
	if _, err := translog.VerifyRange(r.Start(), r.Batches, opts); err != nil {
		t.Fatal(err)
	}

	// The whole year: from the log's first batch, nothing before it.
	r, err = Read(ctx, s, testOrigin, year, month(13))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Batches) != len(f.batches) || r.Before != nil || r.After != nil || r.Start().Checkpoint != nil {
		t.Errorf("the year read %d batches of %d, before %v, after %v", len(r.Batches), len(f.batches), r.Before != nil, r.After != nil)
	}

	if _, err := Read(ctx, s, "incidents.example.com/log/other", year, month(13)); err == nil || !strings.Contains(err.Error(), "holds no batches") {
		t.Errorf("reading a log not archived: %v", err)
	}
}

// Every month of the year verifies on its own, from the tiles before it.
func TestEveryMonthVerifies(t *testing.T) {
	ctx := context.Background()
	f := newArchiveFixture(t)
	s := newDirStore(t)
	archive(t, s, f.batches)
	opts := f.options()
	opts.Expect = statuses(f.batches)
	opts.Kept = [][]byte{f.batches[len(f.batches)-1].Checkpoint, f.batches[3].Checkpoint}
	var all int64
	for m := 1; m <= 12; m++ {
		res, err := Verify(ctx, s, testOrigin, opts, month(m), month(m+1))
		if err != nil {
			t.Fatalf("month %d: %v", m, err)
		}
		all += res.BytesRead
	}
	year, err := Verify(ctx, s, testOrigin, opts, year, month(13))
	if err != nil {
		t.Fatal(err)
	}
	if year.First != 0 || year.End != 1200 || year.Batches != len(f.batches) {
		t.Errorf("the year verified %+v", year)
	}
	// After the archive's end there is nothing to verify.
	if _, err := Verify(ctx, s, testOrigin, opts, month(14), month(15)); err == nil {
		t.Error("a range after the archive's end verified")
	}
}

// A log past 65,536 entries has a completed tile of level 1, which a range
// after it starts from, and whose change is caught.
func TestLevelOneTiles(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 70,000 entries")
	}
	ctx := context.Background()
	key := newKeyPair(t, "k")
	batches := writeLog(t, key, nil, yearOfIncidents(3700, 20), 500)
	s := dirStorage(t)
	archive(t, s, batches)
	opts := translog.VerifyOptions{Origin: testOrigin, Verifier: key.verifier}
	opts.Kept = [][]byte{batches[len(batches)-1].Checkpoint}
	if _, err := s.Get(ctx, tileKey(testOrigin, 1, 0)); err != nil {
		t.Fatal(err)
	}
	res, err := Verify(ctx, s, testOrigin, opts, month(12), month(13))
	if err != nil {
		t.Fatal(err)
	}
	if res.First < 1<<16 {
		t.Fatalf("December begins at %d, before the level 1 tile's end", res.First)
	}
	// The year checks tile 1/0 against the level 0 tiles.
	if _, err := Verify(ctx, s, testOrigin, opts, year, month(13)); err != nil {
		t.Fatal(err)
	}

	tile, _ := s.Get(ctx, tileKey(testOrigin, 1, 0))
	tile[100*32] ^= 1
	s.replace(t, tileKey(testOrigin, 1, 0), tile)
	_, err = Verify(ctx, s, testOrigin, opts, month(12), month(13))
	var broken *translog.BrokenError
	if !errors.As(err, &broken) || !strings.Contains(err.Error(), "the stored hashes of the log before the range give root") {
		t.Errorf("December after a changed level 1 tile: %v", err)
	}
	_, err = Verify(ctx, s, testOrigin, opts, year, month(13))
	if !errors.As(err, &broken) || !strings.HasPrefix(broken.Problems[0].String(), "entries 25600-25855 (") ||
		!strings.Contains(err.Error(), tileKey(testOrigin, 1, 0)+" does not hold the root of "+tileKey(testOrigin, 0, 100)) {
		t.Errorf("the year after a changed level 1 tile: %v", err)
	}
}
