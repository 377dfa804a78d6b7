// Package sink is a notification receiver for local development, end-to-end
// tests and benchmarks: it accepts webhook deliveries, records them with the
// time they arrived, and can print each one for a person to read.
package sink

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/incidentops/incident-operator/internal/notify"
)

// Delivery is one webhook request the sink accepted.
type Delivery struct {
	At      time.Time
	Path    string
	Key     string
	Message notify.Message
}

// Sink is an http.Handler that records deliveries.
type Sink struct {
	// Out, when set, gets one line per delivery.
	Out io.Writer
	// Fail, when set, is asked about the nth request (from 1) after it is
	// recorded; a non-zero answer is sent as the status instead of 202, so
	// tests can play a receiver that is down.
	Fail func(n int) int

	mu         sync.Mutex
	deliveries []Delivery
}

// ServeHTTP accepts a JSON notification.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST a notification", http.StatusMethodNotAllowed)
		return
	}
	var msg notify.Message
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&msg); err != nil {
		http.Error(w, "body is not a notification: "+err.Error(), http.StatusBadRequest)
		return
	}
	d := Delivery{At: time.Now(), Path: r.URL.Path, Key: r.Header.Get(notify.IdempotencyKeyHeader), Message: msg}
	s.mu.Lock()
	s.deliveries = append(s.deliveries, d)
	n, fail := len(s.deliveries), s.Fail
	if s.Out != nil {
		fmt.Fprintln(s.Out, d.At.Format("15:04:05.000")+"  "+line(msg, d.Key))
	}
	s.mu.Unlock()
	if fail != nil {
		if code := fail(n); code != 0 {
			w.WriteHeader(code)
			return
		}
	}
	w.WriteHeader(http.StatusAccepted)
}

// Len is how many deliveries the sink has accepted so far.
func (s *Sink) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.deliveries)
}

// Deliveries returns a copy of what the sink has accepted so far.
func (s *Sink) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// line is what the sink prints of a message: about an incident, or a
// report's run.
func line(msg notify.Message, key string) string {
	switch {
	case msg.IncidentMessage != nil:
		inc := msg.Incident
		return fmt.Sprintf("%-22s %s/%s  %s %s  policy=%s level=%d  %q  key=%s",
			"→ "+msg.Receiver, inc.Namespace, inc.Name, inc.Severity, inc.Category, msg.Policy, msg.Level, inc.Title, key)
	case msg.ReportMessage != nil:
		what := "notice " + msg.Notice
		if msg.Document != nil {
			what = "document " + msg.Filename
		}
		return fmt.Sprintf("%-22s %s/%s  %s run %s  %s  key=%s", "→ report", msg.Namespace, msg.Report, msg.Kind, msg.Run, what, key)
	}
	return "a message about nothing known  key=" + key
}
