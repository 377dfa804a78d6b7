package controllers

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/time/rate"
)

// A namespace that floods gets its burst of Normal events, then no more
// than the rate; another namespace keeps its own allowance.
func TestNormalEventsAreBudgetedPerNamespace(t *testing.T) {
	b := &normalEventBudget{byName: map[string]*rate.Limiter{}}
	allowed := 0
	for range 3 * normalEventBurst {
		if b.allow("flood") {
			allowed++
		}
	}
	// The rate refills a few while the loop runs; far fewer than asked.
	if allowed < normalEventBurst || allowed > normalEventBurst+normalEventRate {
		t.Fatalf("allowed %d of %d Normal events at once, want the burst of %d", allowed, 3*normalEventBurst, normalEventBurst)
	}
	if dropped := testutil.ToFloat64(normalEventsDropped.WithLabelValues("flood")); dropped != float64(3*normalEventBurst-allowed) {
		t.Fatalf("counted %v dropped, want %d", dropped, 3*normalEventBurst-allowed)
	}
	if !b.allow("quiet") {
		t.Fatal("a flood in one namespace silenced another")
	}
}
