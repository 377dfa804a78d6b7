package notify

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestWebhookSendsTheMessageWithItsKey(t *testing.T) {
	var gotKey, gotType string
	var got Message
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotKey, gotType = r.Header.Get(IdempotencyKeyHeader), r.Header.Get("Content-Type")
		_ = json.NewDecoder(r.Body).Decode(&got)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	msg := Message{Key: "k1", IncidentMessage: &IncidentMessage{Policy: "audit", Receiver: "desk", Incident: IncidentSummary{Name: "lost-laptop", Title: "Laptop lost"}}}
	if err := (&HTTP{}).SendWebhook(context.Background(), WebhookTarget{URL: srv.URL, Timeout: time.Second}, msg, time.Now()); err != nil {
		t.Fatal(err)
	}
	if gotKey != "k1" || gotType != "application/json" {
		t.Errorf("headers: key %q, content type %q", gotKey, gotType)
	}
	if got.Incident.Name != "lost-laptop" || got.Policy != "audit" || got.Key != "k1" {
		t.Errorf("body = %+v", got)
	}
}

// Incidents and reports share one envelope: the key and the notice, beside
// the fields of what the message is about and none of the other's, so a
// webhook reads one flat object and can tell the two apart by what is set.
func TestOneEnvelopeForIncidentsAndReports(t *testing.T) {
	due := time.Date(2026, time.April, 1, 8, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		msg  Message
		want []string
	}{
		"incident": {
			msg:  Message{Key: "k1", Notice: "Escalated", IncidentMessage: &IncidentMessage{Policy: "audit", Level: 2, Receiver: "desk"}},
			want: []string{"idempotencyKey", "incident", "level", "notice", "policy", "receiver"},
		},
		"report": {
			msg:  Message{Key: "k2", Notice: NoticeReviewOverdue, ReportMessage: &ReportMessage{Report: "weekly", Kind: "ControlDocument", ReviewDueAt: &due}},
			want: []string{"from", "idempotencyKey", "incidents", "kind", "namespace", "notice", "report", "reviewDueAt", "run", "to"},
		},
	} {
		raw, err := json.Marshal(tc.msg)
		if err != nil {
			t.Fatal(err)
		}
		var fields map[string]any
		if err := json.Unmarshal(raw, &fields); err != nil {
			t.Fatal(err)
		}
		keys := slices.Sorted(maps.Keys(fields))
		if !slices.Equal(keys, tc.want) {
			t.Errorf("%s: fields %v, want %v", name, keys, tc.want)
		}
		var back Message
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatal(err)
		}
		if (back.IncidentMessage != nil) != (name == "incident") || (back.ReportMessage != nil) != (name == "report") || back.Key != tc.msg.Key || back.Notice != tc.msg.Notice {
			t.Errorf("%s: decoded as %+v", name, back)
		}
	}
	// A template renders incidents only, and says so rather than failing
	// on a nil field.
	r, err := NewRenderer(Template{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Render(Message{Key: "k", ReportMessage: &ReportMessage{Report: "weekly"}}); err == nil || !strings.Contains(err.Error(), "report's run") {
		t.Errorf("rendering a report's message: %v", err)
	}
}
