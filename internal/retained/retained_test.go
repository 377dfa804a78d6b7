package retained

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/archive"
	"github.com/incidentops/incident-operator/internal/retained/retainedtest"
	"github.com/incidentops/incident-operator/internal/translog"
)

var (
	january = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	march   = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
)

// archived writes namespace desk's log to a directory archive, with two
// incidents' entries interleaved in its batches, and archives both whole
// as retention does: one reported in January 2026 and archived on 1
// February, one reported in March 2026 and archived a year later.
func archived(t *testing.T) (*Reader, map[string]archive.Retained) {
	t.Helper()
	reader := &Reader{Origin: "incident-operator"}
	at := func(name string, hours int) translog.Entry {
		start := map[string]time.Time{"january": january, "march": march}[name]
		return translog.Entry{Namespace: "desk", Incident: name, UID: "uid-" + name, Action: "Routed", Operator: true, Time: start.Add(time.Duration(hours) * time.Hour)}
	}
	incident := func(name string, reported, archived time.Time) retainedtest.Incident {
		return retainedtest.Incident{Archived: archived, Object: &securityv1alpha1.Incident{
			ObjectMeta: metav1.ObjectMeta{Namespace: "desk", Name: name, UID: types.UID("uid-" + name), CreationTimestamp: metav1.NewTime(reported)}}}
	}
	a := retainedtest.Write(t, t.TempDir(), reader.Log("desk"),
		[][]translog.Entry{{at("january", 0), at("january", 1)}, {at("march", 0), at("january", 2)}, {at("march", 1)}},
		incident("january", january, time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)), incident("march", march, time.Date(2027, 3, 10, 0, 0, 0, 0, time.UTC)))
	reader.Store = a.Store
	return reader, map[string]archive.Retained{"january": a.Records["uid-january"], "march": a.Records["uid-march"]}
}

// A period takes the archived incidents whose time in the cluster, from
// their report to their archiving, overlaps it.
func TestRetainedIncidentsOfAPeriod(t *testing.T) {
	reader, _ := archived(t)
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	tests := map[string]struct {
		from, to time.Time
		want     string
	}{
		"March 2026":                     {day(2026, 3, 1), day(2026, 4, 1), "march"},
		"January 2026":                   {day(2026, 1, 1), day(2026, 2, 1), "january"},
		"to the day january is archived": {day(2026, 2, 1), day(2026, 2, 2), "january"},
		"before either":                  {day(2025, 11, 1), day(2025, 12, 1), ""},
		"after both":                     {day(2027, 4, 1), day(2027, 5, 1), ""},
		"every one":                      {time.Time{}, time.Time{}, "january,march"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := reader.RetainedIncidents(context.Background(), "desk", tc.from, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, inc := range got {
				names = append(names, inc.Name)
			}
			if strings.Join(names, ",") != tc.want {
				t.Errorf("read %v, want %s", names, tc.want)
			}
		})
	}
	if got, err := reader.RetainedIncidents(context.Background(), "elsewhere", time.Time{}, time.Time{}); err != nil || len(got) != 0 {
		t.Errorf("a namespace the archive holds nothing of: %v, %v", got, err)
	}
}

// An archived incident is read only when its entries check against the
// archived log, and its object, evidence and entries are its own.
func TestReadRefusesAnIncidentThatDoesNotCheck(t *testing.T) {
	reader, records := archived(t)
	ctx := context.Background()
	a, err := Read(ctx, reader.Store, reader.Log("desk"), records["january"])
	if err != nil || len(a.Entries) != 3 || a.First != 0 || a.Last != 3 || a.Entries[2].Sequence != 2 {
		t.Fatalf("Read = %+v, %v; want its 3 entries, 0 to 3", a, err)
	}
	tests := map[string]struct {
		change func(r *archive.Retained)
		says   string
	}{
		"an entry edited": {func(r *archive.Retained) {
			r.Entries[1].Leaf = bytes.Replace(r.Entries[1].Leaf, []byte("Routed"), []byte("Closed"), 1)
		}, "entry 1 is not the one the log holds"},
		"an entry left out":      {func(r *archive.Retained) { r.Entries = append(r.Entries[:1:1], r.Entries[2]) }, "leaves out its entry 1"},
		"the last entry cut off": {func(r *archive.Retained) { r.Entries = r.Entries[:2] }, "its status counts 3 entries of the log up to index 3, but the archive holds 2 of them (cut short?)"},
		"another incident's entry": {func(r *archive.Retained) {
			r.Entries = append(r.Entries, records["march"].Entries[0])
		}, "its entry 2 is of incident march (uid uid-march)"},
		"an entry twice":            {func(r *archive.Retained) { r.Entries = append(r.Entries, r.Entries[0]) }, "holds its entry 0 twice"},
		"another incident's object": {func(r *archive.Retained) { r.Incident = records["march"].Incident }, "its object is incident desk/march (uid uid-march)"},
		"evidence of another incident": {func(r *archive.Retained) {
			r.Evidence = append(r.Evidence, json.RawMessage(`{"metadata":{"namespace":"desk","name":"e"},"spec":{"incident":"march"}}`))
		}, "its evidence desk/e is of incident march"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := records["january"]
			r.Entries = append([]archive.RetainedEntry(nil), r.Entries...)
			tc.change(&r)
			_, err := Read(ctx, reader.Store, reader.Log("desk"), r)
			if err == nil || !strings.Contains(err.Error(), "desk/january (uid uid-january)") || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Read = %v, want an error naming the incident and saying %q", err, tc.says)
			}
		})
	}
}

// countingStore counts the reads of each key.
type countingStore struct {
	archive.Store
	gets map[string]int
}

func (s *countingStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.gets[key]++
	return s.Store.Get(ctx, key)
}

// Checking many archived incidents reads each batch of the log once, not
// once for every incident whose entries come after it.
func TestCheckReadsEachBatchOnce(t *testing.T) {
	reader, _ := archived(t)
	counting := &countingStore{Store: reader.Store, gets: map[string]int{}}
	reader.Store = counting
	read, problems, err := reader.Check(context.Background(), "desk", func(archive.Retained) bool { return true })
	if err != nil || read != 2 || len(problems) != 0 {
		t.Fatalf("Check = %d, %v, %v; want both incidents checked", read, problems, err)
	}
	if _, err := reader.InPeriod(context.Background(), "desk", time.Time{}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	for key, n := range counting.gets {
		if strings.Contains(key, "/batches/") && n > 2 {
			t.Errorf("%s read %d times by one Check and one InPeriod, want once by each", key, n)
		}
	}
}
