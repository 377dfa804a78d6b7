package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

func TestOwnWritesWaitForTheCacheToShowTheLastWrite(t *testing.T) {
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	incidentAt := func(version string) *securityv1alpha1.Incident {
		return &securityv1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "laptop", ResourceVersion: version}}
	}
	cases := map[string]struct {
		written string // empty: no write remembered
		cached  string
		after   time.Duration
		wait    bool
	}{
		"nothing written":                   {cached: "10"},
		"cache older than the write":        {written: "12", cached: "10", wait: true},
		"cache older by a digit":            {written: "100", cached: "99", wait: true},
		"cache shows the write":             {written: "12", cached: "12"},
		"cache shows a later foreign write": {written: "12", cached: "13"},
		"cache later by a digit":            {written: "99", cached: "100"},
		"cache still behind after the wait": {written: "12", cached: "10", after: ownWriteWait},
		"opaque versions that differ":       {written: "b", cached: "a", wait: true},
		"opaque versions that match":        {written: "a", cached: "a"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var w ownWrites
			if c.written != "" {
				w.wrote(incidentAt(c.written), at)
			}
			wait := w.behind(incidentAt(c.cached), at.Add(c.after))
			if (wait > 0) != c.wait {
				t.Fatalf("behind = %v, want waiting %v", wait, c.wait)
			}
			if wait > ownWriteRecheck {
				t.Fatalf("behind = %v, longer than a recheck (%v)", wait, ownWriteRecheck)
			}
			if !c.wait && len(w.written) != 0 {
				t.Fatalf("a write the cache shows is still remembered: %v", w.written)
			}
		})
	}
}
