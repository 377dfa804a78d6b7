package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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

	msg := Message{Key: "k1", Policy: "audit", Receiver: "desk", Incident: IncidentSummary{Name: "lost-laptop", Title: "Laptop lost"}}
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
