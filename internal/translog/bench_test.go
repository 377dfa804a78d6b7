package translog

import (
	"testing"
)

// A year of an organisation's records: 5,000 incidents of 20 entries each,
// written in batches of 64 (each batch hashed and its checkpoint signed),
// and the whole log verified as an auditor reads it from an archive.
const (
	benchIncidents = 5000
	benchEntries   = 20
	benchPer       = 64
)

func BenchmarkLog(b *testing.B) {
	key := newKeyPair(b, "k")
	entries := testEntries(benchIncidents, benchEntries)
	n := float64(len(entries))

	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			writeLog(b, key, entries, benchPer)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/entry")
		b.ReportMetric(0, "ns/op")
	})

	batches := writeLog(b, key, entries, benchPer)
	var archived int
	for _, batch := range batches {
		archived += len(batch.Encode())
	}
	opts := VerifyOptions{Origin: testOrigin, Verifier: key.verifier}
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Verify(batches, opts); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/entry")
		b.ReportMetric(float64(archived), "archive-bytes")
		b.ReportMetric(float64(archived)/n, "archive-bytes/entry")
		b.ReportMetric(0, "ns/op")
	})
}
