package controllers

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ownWriteWait bounds how long a reconcile waits for the cache to show the
// operator's own last write of an object; past it, the optimistic lock on
// status patches is what guards against acting on the older state.
const ownWriteWait = 2 * time.Second

// ownWriteRecheck is how soon an object whose cache lags is looked at
// again; the write's own watch event usually brings it back sooner.
const ownWriteRecheck = 50 * time.Millisecond

// ownWrites remembers, by object, the resourceVersion of the operator's
// last write, so that a reconcile never acts on a cache that does not show
// it yet: it would repeat work that write recorded, such as a delivery.
// The reconcile that finds the cache behind returns at once and comes back
// when the write's event arrives, instead of holding a worker while it
// polls the cache.
type ownWrites struct {
	mu      sync.Mutex
	written map[types.NamespacedName]ownWrite
}

type ownWrite struct {
	version string
	at      time.Time
}

// wrote records that obj, as returned by a write at now, is the newest the
// operator made.
func (w *ownWrites) wrote(obj client.Object, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.written == nil {
		w.written = map[types.NamespacedName]ownWrite{}
	}
	w.written[client.ObjectKeyFromObject(obj)] = ownWrite{version: obj.GetResourceVersion(), at: now}
}

// behind is how long to wait before reconciling cached, as read from the
// cache at now: zero once the cache shows the operator's last write of it
// (or a later one), or once the wait is over.
func (w *ownWrites) behind(cached client.Object, now time.Time) time.Duration {
	key := client.ObjectKeyFromObject(cached)
	w.mu.Lock()
	defer w.mu.Unlock()
	last, ok := w.written[key]
	if !ok {
		return 0
	}
	if shows(cached.GetResourceVersion(), last.version) || now.Sub(last.at) >= ownWriteWait {
		delete(w.written, key)
		return 0
	}
	return min(ownWriteRecheck, ownWriteWait-now.Sub(last.at))
}

// forget drops what is remembered of an object that is gone.
func (w *ownWrites) forget(key types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.written, key)
}

// shows is true when a cache at version cached holds the write that
// returned version written. Versions of one resource compare as integers
// (resourceversion.CompareResourceVersion); ones that do not parse are
// only known to match when equal.
func shows(cached, written string) bool {
	c, err := resourceversion.CompareResourceVersion(cached, written)
	if err != nil {
		return cached == written
	}
	return c >= 0
}
