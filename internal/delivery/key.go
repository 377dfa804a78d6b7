// Package delivery is the ledger of an incident's notifications: which
// deliveries are owed, under which key, which are due, when a failed one is
// tried again, when it is given up, who is told in its place, and what the
// records add up to. It is pure: it sends nothing and reads no API; the
// incident controller asks it what to do and writes what it says.
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
