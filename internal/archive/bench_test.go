package archive

import (
	"context"
	"testing"

	"github.com/incidentops/incident-operator/internal/translog"
)

// A year of an organisation's records, 5,000 incidents of 20 entries each
// in batches of 256, archived in a directory and verified as an auditor
// does: the whole year, and one month of it from the tiles before it.
const (
	benchIncidents = 5000
	benchEntries   = 20
	benchPer       = 256
)

func BenchmarkVerifyArchive(b *testing.B) {
	ctx := context.Background()
	key := newKeyPair(b, "k")
	batches := writeLog(b, key, nil, yearOfIncidents(benchIncidents, benchEntries), benchPer)
	d, err := NewDir(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	archive(b, d, batches)
	opts := translog.VerifyOptions{Origin: testOrigin, Verifier: key.verifier, Expect: statuses(batches)}
	opts.Kept = [][]byte{batches[len(batches)/2].Checkpoint, batches[len(batches)-1].Checkpoint}

	for name, months := range map[string][2]int{"year": {1, 13}, "june": {6, 7}} {
		b.Run(name, func(b *testing.B) {
			var res Result
			for b.Loop() {
				if res, err = Verify(ctx, d, testOrigin, opts, month(months[0]), month(months[1])); err != nil {
					b.Fatal(err)
				}
			}
			entries := float64(res.End - res.First)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/entries, "ns/entry")
			b.ReportMetric(float64(res.BytesRead), "bytes-read")
			b.ReportMetric(entries, "entries")
		})
	}
}
