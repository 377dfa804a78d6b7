package notify

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestDeliveryKeyIsStableAndDistinct(t *testing.T) {
	base := DeliveryKey("uid-1", "audit", 0, 0, "desk")
	if again := DeliveryKey("uid-1", "audit", 0, 0, "desk"); again != base {
		t.Fatalf("same delivery gave keys %s and %s", base, again)
	}
	others := []string{
		DeliveryKey("uid-2", "audit", 0, 0, "desk"),
		DeliveryKey("uid-1", "desk", 0, 0, "desk"),
		DeliveryKey("uid-1", "audit", 1, 0, "desk"),
		DeliveryKey("uid-1", "audit", 0, 1, "desk"),
		DeliveryKey("uid-1", "audit", 0, 0, "dpo"),
		// The separator keeps fields from running into each other.
		DeliveryKey("uid-1", "audi", 0, 0, "tdesk"),
	}
	for i, k := range others {
		if k == base {
			t.Errorf("variation %d has the same key", i)
		}
	}
	if len(base) != 32 {
		t.Errorf("key %q is %d characters, want 32", base, len(base))
	}
}

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: time.Minute}
	cases := map[int32]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 6: 32 * time.Second, 7: time.Minute, 40: time.Minute}
	for attempts, want := range cases {
		if got := b.Delay(attempts, nil); got != want {
			t.Errorf("after %d attempts: %s, want %s", attempts, got, want)
		}
	}
	jittered := Backoff{Initial: time.Second, Max: time.Minute, Jitter: 0.5}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 100 {
		if d := jittered.Delay(2, rnd); d < 2*time.Second || d > 3*time.Second {
			t.Fatalf("jittered delay %s outside [2s, 3s]", d)
		}
	}
}

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
