package sink

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/incidentops/incident-operator/internal/notify"
)

// The sink prints a line a person can read for both kinds of message, and
// keeps each whole.
func TestSinkPrintsIncidentsAndReports(t *testing.T) {
	var out bytes.Buffer
	s := &Sink{Out: &out}
	for _, msg := range []notify.Message{
		{Key: "k1", IncidentMessage: &notify.IncidentMessage{Policy: "desk", Level: 1, Receiver: "audit",
			Incident: notify.IncidentSummary{Namespace: "council", Name: "lost-laptop", Title: "Laptop lost"}}},
		{Key: "k2", ReportMessage: &notify.ReportMessage{Report: "weekly", Namespace: "council", Kind: "ControlDocument", Run: "2026-03-30T08:00:00Z",
			Document: notify.NewDocument("CSV", "weekly.csv", "text/csv", []byte("x"))}},
		{Key: "k3", Notice: notify.NoticeReviewOverdue, ReportMessage: &notify.ReportMessage{Report: "weekly", Namespace: "council", Run: "2026-03-30T08:00:00Z"}},
	} {
		body, _ := json.Marshal(msg)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))
		if w.Code != http.StatusAccepted {
			t.Fatalf("%s: status %d", msg.Key, w.Code)
		}
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for i, want := range []string{"council/lost-laptop", "document weekly.csv", "notice ReviewOverdue"} {
		if i >= len(lines) || !strings.Contains(lines[i], want) {
			t.Errorf("line %d does not say %q:\n%s", i+1, want, out.String())
		}
	}
	if d := s.Deliveries(); len(d) != 3 || d[1].Message.Filename != "weekly.csv" {
		t.Errorf("deliveries %+v", d)
	}
}
