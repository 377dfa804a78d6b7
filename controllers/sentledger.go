package controllers

import (
	"sync"
	"time"
)

// sentLedgerTTL is how long the operator remembers a delivery whose outcome
// it could not record. Long enough to outlast an API server that refuses
// writes for a while; a restart forgets it, and the delivery is then sent
// again under its key, as at-least-once delivery allows.
const sentLedgerTTL = time.Hour

// sentLedgerMax bounds the ledger's memory.
const sentLedgerMax = 100_000

// sentLedger remembers deliveries whose outcome is not stored in the
// incident's status yet: those accepted by their receivers and, for
// incidents, those still in flight in the dispatch or ended since the last
// reconcile. When the status write fails (the API server is away, or
// refuses the write), the next reconcile finds the delivery still pending
// in status; without the ledger it would send every one of them again, on
// every retry.
type sentLedger struct {
	mu      sync.Mutex
	entries map[string]time.Time // delivery key → when the receiver accepted it
	// dispatch runs sends outside the reconcile; nil for a ledger whose
	// reconciler sends by itself.
	dispatch *deliveryDispatch
}

func newSentLedger() *sentLedger { return &sentLedger{entries: map[string]time.Time{}} }

// dispatching is the ledger with the dispatch its sends run in.
func (l *sentLedger) dispatching(d *deliveryDispatch) *sentLedger {
	l.dispatch = d
	return l
}

// remember records that key was delivered at.
func (l *sentLedger) remember(key string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.entries) >= sentLedgerMax {
		for k, t := range l.entries {
			if at.Sub(t) > sentLedgerTTL {
				delete(l.entries, k)
			}
		}
		if len(l.entries) >= sentLedgerMax {
			return
		}
	}
	l.entries[key] = at
}

// deliveredAt is when key was delivered, if the ledger remembers it.
func (l *sentLedger) deliveredAt(key string, now time.Time) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	at, ok := l.entries[key]
	if ok && now.Sub(at) > sentLedgerTTL {
		delete(l.entries, key)
		return time.Time{}, false
	}
	return at, ok
}

// forget drops keys whose outcome is now stored.
func (l *sentLedger) forget(keys []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.entries, k)
	}
}
