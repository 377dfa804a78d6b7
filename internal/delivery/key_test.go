package delivery

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestKeyIsStableAndDistinct(t *testing.T) {
	base := Key("uid-1", "audit", 0, 0, "desk")
	if again := Key("uid-1", "audit", 0, 0, "desk"); again != base {
		t.Fatalf("same delivery gave keys %s and %s", base, again)
	}
	others := []string{
		Key("uid-2", "audit", 0, 0, "desk"),
		Key("uid-1", "desk", 0, 0, "desk"),
		Key("uid-1", "audit", 1, 0, "desk"),
		Key("uid-1", "audit", 0, 1, "desk"),
		Key("uid-1", "audit", 0, 0, "dpo"),
		// The separator keeps fields from running into each other.
		Key("uid-1", "audi", 0, 0, "tdesk"),
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
