package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/incidentops/incident-operator/internal/translog"
)

// Retained is an incident archived whole when its retention ends and it
// leaves the cluster: the object as the API server stored it, its evidence
// records, and its entries of the namespace's log with their indexes, so
// that what the log says of it can be read, and checked against the
// archived log, without the cluster.
//
// It is kept at <log>/incidents/<name>/<uid>.json, once.
type Retained struct {
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	UID       string    `json:"uid"`
	Archived  time.Time `json:"archived"`
	// Incident is the Incident object, as JSON.
	Incident json.RawMessage `json:"incident"`
	// Evidence are its Evidence objects, as JSON.
	Evidence []json.RawMessage `json:"evidence,omitempty"`
	// Entries are its entries of the log, in order.
	Entries []RetainedEntry `json:"entries"`
}

// RetainedEntry is one entry of the log: its index, and its leaf as the
// log hashes it.
type RetainedEntry struct {
	Index int64           `json:"index"`
	Leaf  json.RawMessage `json:"leaf"`
}

func retainedPrefix(log string) string { return log + "/incidents/" }

// RetainedKey is where the incident name of UID uid, of log, is archived.
func RetainedKey(log, name, uid string) string {
	return retainedPrefix(log) + name + "/" + uid + ".json"
}

// Retain archives an incident whole, once, and returns its key. Archiving
// the same bytes again succeeds, so that an operator that stopped between
// archiving and removing an incident archives it again; other bytes under
// the key fail.
func (w *Writer) Retain(ctx context.Context, log string, r Retained) (string, error) {
	if r.Name == "" || r.UID == "" || len(r.Incident) == 0 {
		return "", errors.New("an incident is archived with its name, UID and object")
	}
	key := RetainedKey(log, r.Name, r.UID)
	if err := checkKey(key, false); err != nil {
		return "", err
	}
	data, err := json.Marshal(r)
	if err != nil {
		return "", err
	}
	if err := w.create(ctx, key, data, w.retainUntil()); err != nil {
		return "", fmt.Errorf("archiving incident %s/%s: %w", r.Namespace, r.Name, err)
	}
	return key, nil
}

// ReadRetained reads the incidents of log named name that the archive
// holds (more than one when incidents of one name came and went), oldest
// archived first.
func ReadRetained(ctx context.Context, store Store, log, name string) ([]Retained, error) {
	keys, err := store.List(ctx, retainedPrefix(log)+name+"/")
	if err != nil {
		return nil, err
	}
	var out []Retained
	for _, key := range keys {
		r, err := readRetained(ctx, store, key)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	sortRetained(out)
	return out, nil
}

// ListRetained reads every incident of log that the archive holds, oldest
// archived first.
func ListRetained(ctx context.Context, store Store, log string) ([]Retained, error) {
	keys, err := store.List(ctx, retainedPrefix(log))
	if err != nil {
		return nil, err
	}
	var out []Retained
	for _, key := range keys {
		if !strings.HasSuffix(key, ".json") {
			continue
		}
		r, err := readRetained(ctx, store, key)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	sortRetained(out)
	return out, nil
}

func readRetained(ctx context.Context, store Store, key string) (Retained, error) {
	data, err := store.Get(ctx, key)
	if err != nil {
		return Retained{}, err
	}
	var r Retained
	if err := json.Unmarshal(data, &r); err != nil {
		return Retained{}, fmt.Errorf("%s: %w", key, err)
	}
	return r, nil
}

func sortRetained(rs []Retained) {
	slices.SortStableFunc(rs, func(a, b Retained) int { return a.Archived.Compare(b.Archived) })
}

// CheckRetained checks that each entry of an archived incident is the
// leaf at its index in the archived log, and that the log holds no other
// entry of the incident up to the last of them: an archived incident says
// what the log says of it, no more and no less. It reads the batches that
// hold them; Verify is what checks the batches themselves.
func CheckRetained(ctx context.Context, store Store, log string, r Retained) error {
	if len(r.Entries) == 0 {
		return fmt.Errorf("archived incident %s/%s holds no entry of the log", r.Namespace, r.Name)
	}
	list, err := listBatches(ctx, store, log)
	if err != nil {
		return err
	}
	want := map[int64]json.RawMessage{}
	last := int64(-1)
	for _, e := range r.Entries {
		want[e.Index] = e.Leaf
		last = max(last, e.Index)
	}
	seen := 0
	for i := range list.firsts {
		if list.firsts[i] > last {
			break
		}
		b, err := list.read(ctx, i)
		if err != nil {
			return err
		}
		lines, err := b.Lines()
		if err != nil {
			return err
		}
		for j, line := range lines {
			index := b.First + int64(j)
			leaf, ok := want[index]
			if ok {
				if !bytes.Equal(bytes.TrimSpace(leaf), bytes.TrimSpace(line)) {
					return fmt.Errorf("archived incident %s/%s: entry %d is not the one the log holds at that index", r.Namespace, r.Name, index)
				}
				seen++
				continue
			}
			if index > last {
				break
			}
			e, err := translog.ParseEntry(line)
			if err == nil && e.UID == r.UID {
				return fmt.Errorf("archived incident %s/%s leaves out its entry %d (%s) that the log holds", r.Namespace, r.Name, index, e.Action)
			}
		}
	}
	if seen != len(want) {
		return fmt.Errorf("archived incident %s/%s holds %d entries the archived log does not", r.Namespace, r.Name, len(want)-seen)
	}
	return nil
}
