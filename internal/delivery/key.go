// Package delivery is the ledger of everything the operator sends. On the
// attempt record every delivery embeds (DeliveryAttempt) it keeps which
// deliveries are due, when a failed one is tried again and when it is
// given up, for an incident's notifications and a report's deliveries
// alike. For an incident's notifications it also keeps which are owed,
// under which key, who is told in place of one given up, and what the
// records add up to. It is pure: it sends nothing and reads no API; the
// controllers ask it what to do and write what it says.
package delivery

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// Key identifies one delivery: the same incident, policy, level, repeat and
// receiver always give the same key, so every retry of a delivery carries it
// and receivers can drop duplicates.
func Key(incidentUID, policy string, level, repeat int32, receiver string) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%d\x00%d\x00%s", incidentUID, policy, level, repeat, receiver))
	return hex.EncodeToString(sum[:16])
}
