package archive

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/incidentops/incident-operator/internal/translog"
)

// failing fails the creates of keys that contain fail, as a store that
// went away part way through an append does.
type failing struct {
	Store
	fail string
}

func (f *failing) Create(ctx context.Context, key string, data []byte, retain time.Time) error {
	if f.fail != "" && strings.Contains(key, f.fail) {
		return errors.New("the store went away")
	}
	return f.Store.Create(ctx, key, data, retain)
}

func TestWriterLayout(t *testing.T) {
	ctx := context.Background()
	key := newKeyPair(t, "k")
	batches := writeLog(t, key, nil, yearOfIncidents(30, 20), 100) // 600 entries
	s := newDirStore(t)
	archive(t, s, batches)
	keys, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, b := range batches {
		want = append(want, batchKey(testOrigin, b.First), checkpointKey(testOrigin, b.End()))
	}
	want = append(want, testOrigin+"/tile/0/000", testOrigin+"/tile/0/001")
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("archived keys\n%q\nwant\n%q", keys, want)
	}
	if got := checkpointKey(testOrigin, 600); got != testOrigin+"/checkpoints/0000000000000000600" {
		t.Errorf("checkpoint key %s", got)
	}
	if got := tileKey(testOrigin, 1, 1234567); got != testOrigin+"/tile/1/x001/x234/567" {
		t.Errorf("tile key %s", got)
	}
	// Each checkpoint is the batch's, and each tile the record hashes.
	cp, err := s.Get(ctx, checkpointKey(testOrigin, 600))
	if err != nil || string(cp) != string(batches[5].Checkpoint) {
		t.Errorf("checkpoint at 600: %q, %v", cp, err)
	}
	tile, err := s.Get(ctx, testOrigin+"/tile/0/001")
	if err != nil {
		t.Fatal(err)
	}
	leaves := recordHashes(batches)
	for i := range tileWidth {
		if string(tile[i*32:(i+1)*32]) != string(leaves[tileWidth+i][:]) {
			t.Fatalf("hash %d of tile 1 is not entry %d's", i, tileWidth+i)
		}
	}
}

func TestWriterAppendsOnlyTheNextBatch(t *testing.T) {
	ctx := context.Background()
	key := newKeyPair(t, "k")
	entries := yearOfIncidents(30, 20)
	batches := writeLog(t, key, nil, entries, 100)
	s := newDirStore(t)
	w := NewWriter(s, 0, clocktesting.NewFakePassiveClock(year))
	for _, b := range batches[:3] {
		if err := w.Append(ctx, testOrigin, b); err != nil {
			t.Fatal(err)
		}
	}
	// Appending what is archived again succeeds.
	if err := w.Append(ctx, testOrigin, batches[1]); err != nil {
		t.Errorf("appending an archived batch again: %v", err)
	}
	// A batch of another history at an archived index names the key.
	fork := writeLog(t, key, batches[:1], slices.Concat(entries[100:150], entries[160:]), 100)
	err := w.Append(ctx, testOrigin, fork[1])
	if err == nil || !strings.Contains(err.Error(), batchKey(testOrigin, 100)+" is archived with other bytes") {
		t.Errorf("appending a forked batch: %v", err)
	}
	// A batch beginning where no archived batch begins.
	odd := writeLog(t, key, nil, entries[:350], 150)
	if err := w.Append(ctx, testOrigin, odd[1]); err == nil || !strings.Contains(err.Error(), "where no batch begins") {
		t.Errorf("appending a batch inside the archive: %v", err)
	}
	// A gap.
	if err := w.Append(ctx, testOrigin, batches[4]); err == nil || !strings.Contains(err.Error(), "holds 300 entries, batch log-0000000000000000400 begins at 400") {
		t.Errorf("appending past a gap: %v", err)
	}
	// The next batch of another history, which links elsewhere.
	if err := w.Append(ctx, testOrigin, fork[3]); err == nil || !strings.Contains(err.Error(), "does not link") {
		t.Errorf("appending a batch of a fork: %v", err)
	}
	// One that links but whose root is not the archive's with its entries.
	changed := batches[3]
	changed.Payload = []byte(strings.Replace(string(changed.Payload), `"action":"Routed"`, `"action":"Dismissed"`, 1))
	if err := w.Append(ctx, testOrigin, changed); err == nil || !strings.Contains(err.Error(), "records a root its entries do not give") {
		t.Errorf("appending a changed batch: %v", err)
	}
	if size, err := w.Size(ctx, testOrigin); err != nil || size != 300 {
		t.Errorf("Size = %d, %v; want 300", size, err)
	}
}

// A writer that starts again reads the archive back, tiles and edges, and
// goes on; an append that failed part way is repaired by appending the
// same batch again.
func TestWriterStartsAgainAndRepairs(t *testing.T) {
	ctx := context.Background()
	key := newKeyPair(t, "k")
	batches := writeLog(t, key, nil, yearOfIncidents(60, 20), 70)
	s := &failing{Store: newDirStore(t)}
	for i, b := range batches {
		// A new writer for every third batch.
		w := NewWriter(s, 0, clocktesting.NewFakePassiveClock(year))
		if i%3 == 1 {
			// The batch's object fails after its tiles were written, then
			// its checkpoint's after the batch was.
			s.fail = "/batches/"
			if err := w.Append(ctx, testOrigin, b); err == nil {
				t.Fatal("an append whose batch cannot be written succeeded")
			}
			s.fail = "/checkpoints/"
			if err := w.Append(ctx, testOrigin, b); err == nil {
				t.Fatal("an append whose checkpoint cannot be written succeeded")
			}
			s.fail = ""
			w = NewWriter(s, 0, clocktesting.NewFakePassiveClock(year))
		}
		if err := w.Append(ctx, testOrigin, b); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	opts := translog.VerifyOptions{Origin: testOrigin, Verifier: key.verifier}
	for _, b := range batches {
		opts.Kept = append(opts.Kept, b.Checkpoint)
	}
	if _, err := Verify(ctx, s, testOrigin, opts, year, month(13)); err != nil {
		t.Fatal(err)
	}
	keys, _ := s.List(ctx, testOrigin+"/checkpoints/")
	if len(keys) != len(batches) {
		t.Errorf("%d checkpoints archived for %d batches", len(keys), len(batches))
	}
}

// Objects are locked for the writer's retention from when they are
// written, by the writer's clock.
func TestWriterRetention(t *testing.T) {
	ctx := context.Background()
	key := newKeyPair(t, "k")
	batches := writeLog(t, key, nil, yearOfIncidents(2, 5), 10)
	rec := &recording{Store: newDirStore(t)}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	w := NewWriter(rec, 7*365*24*time.Hour, clocktesting.NewFakePassiveClock(now))
	if err := w.Append(ctx, testOrigin, batches[0]); err != nil {
		t.Fatal(err)
	}
	want := now.Add(7 * 365 * 24 * time.Hour)
	if len(rec.retained) != 2 {
		t.Fatalf("%d objects written, want a batch and a checkpoint", len(rec.retained))
	}
	for key, until := range rec.retained {
		if !until.Equal(want) {
			t.Errorf("%s retained until %s, want %s", key, until, want)
		}
	}
}

type recording struct {
	Store
	retained map[string]time.Time
}

func (r *recording) Create(ctx context.Context, key string, data []byte, retain time.Time) error {
	if r.retained == nil {
		r.retained = map[string]time.Time{}
	}
	r.retained[key] = retain
	return r.Store.Create(ctx, key, data, retain)
}
