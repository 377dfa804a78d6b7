package translog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Entry is one line of the log: one thing that happened to one incident.
//
// The log itself hashes the line's bytes and nothing else, so a verifier
// never has to re-encode an entry to check it. The struct is here so that
// every writer produces the same bytes for the same entry (one canonical
// encoding, which makes a batch rebuilt after a crash identical to the one
// that was lost) and so that a failure can name the incident it concerns.
type Entry struct {
	// Index is the entry's place in the log, from 0. The writer sets it;
	// it makes a removed or moved entry show at its own index rather than
	// only as a changed root.
	Index     int64  `json:"index"`
	Namespace string `json:"namespace"`
	Incident  string `json:"incident"`
	UID       string `json:"uid"`
	Action    string `json:"action"`
	// Actor is the user the API server authenticated for a change, with
	// Groups its groups; Operator is true instead for what the operator did.
	// All are empty when nobody can be named.
	Actor    string   `json:"actor,omitempty"`
	Groups   []string `json:"groups,omitempty"`
	Operator bool     `json:"operator,omitempty"`
	// Time is encoded in UTC with RFC 3339 nanoseconds.
	Time time.Time `json:"time"`
	// Details are encoded with their keys in byte order.
	Details map[string]string `json:"details,omitempty"`
}

// Line is the entry's canonical JSON, without a newline: the bytes the log
// hashes as the entry's leaf. JSON escapes every control character inside
// a string, so a line never holds a newline and lines can be joined as JSON
// Lines.
func (e Entry) Line() ([]byte, error) {
	e.Time = e.Time.UTC()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, fmt.Errorf("encoding log entry %d of incident %s/%s: %w", e.Index, e.Namespace, e.Incident, err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// ParseEntry reads a line that Line wrote.
func ParseEntry(line []byte) (Entry, error) {
	var e Entry
	if len(line) == 0 || line[0] != '{' {
		return e, errors.New("not a JSON object")
	}
	if err := json.Unmarshal(line, &e); err != nil {
		return e, err
	}
	return e, nil
}

// who names the incident an entry is about, for messages.
func (e Entry) who() string {
	if e.Incident == "" && e.UID == "" {
		return ""
	}
	return fmt.Sprintf("incident %s/%s uid %s", e.Namespace, e.Incident, e.UID)
}
