package controllers

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Normal events are for people watching a namespace, and each costs an
// API write. A namespace that reports incidents faster than anyone reads
// events (a scripted import, a flood of alerts turned into incidents) gets
// them up to normalEventBurst at once and normalEventRate a second after;
// the rest are dropped and counted. Warnings are never dropped, and the
// status and the audit log record everything the dropped events said.
const (
	normalEventRate  = 10
	normalEventBurst = 100
)

var normalEventsDropped = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "incidentops_normal_events_dropped_total",
	Help: "Normal events not emitted because their namespace emitted more than 10 a second (after a burst of 100); the status and the audit log still record what they said.",
}, []string{"namespace"})

func init() { metrics.Registry.MustRegister(normalEventsDropped) }

// normalEventBudget is each namespace's allowance of Normal events.
type normalEventBudget struct {
	mu     sync.Mutex
	byName map[string]*rate.Limiter
}

// normalEvents is shared by every recorder: the allowance is the
// namespace's, whichever controller emits.
var normalEvents = &normalEventBudget{byName: map[string]*rate.Limiter{}}

// allow takes one Normal event from namespace's allowance.
func (b *normalEventBudget) allow(namespace string) bool {
	b.mu.Lock()
	l := b.byName[namespace]
	if l == nil {
		l = rate.NewLimiter(normalEventRate, normalEventBurst)
		b.byName[namespace] = l
	}
	b.mu.Unlock()
	if l.Allow() {
		return true
	}
	normalEventsDropped.WithLabelValues(namespace).Inc()
	return false
}
