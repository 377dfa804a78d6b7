package audit

import (
	"testing"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// BenchmarkAppend is one entry a typical change writes: a user with groups
// and two details.
func BenchmarkAppend(b *testing.B) {
	c := NewChain(testNamespace, testSubject, nil)
	s := life[7]
	b.ReportAllocs()
	for b.Loop() {
		c.Append(newKey, start, s.actor, s.action, s.details)
	}
}

// BenchmarkVerify checks a full segment, and reports the cost per entry.
func BenchmarkVerify(b *testing.B) {
	entries, head := longChain(securityv1alpha1.AuditTrailSegmentSize)
	for name, opts := range map[string]VerifyOptions{
		"hashes":                {},
		"hashes and signatures": {Keys: testRing(b), Head: &head},
	} {
		b.Run(name, func(b *testing.B) {
			verify := func() {
				if _, err := Verify(testNamespace, testSubject, entries, opts); err != nil {
					b.Fatal(err)
				}
			}
			n := 0
			for b.Loop() {
				verify()
				n++
			}
			per := float64(len(entries))
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n)/per, "ns/entry")
			b.ReportMetric(testing.AllocsPerRun(5, verify)/per, "allocs/entry")
			b.ReportMetric(0, "ns/op") // per segment; ns/entry says it better
		})
	}
}
