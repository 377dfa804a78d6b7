package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// testStore is the contract every Store keeps, run on a new, empty store.
func testStore(t *testing.T, newStore func(t *testing.T) Store) {
	ctx := context.Background()

	t.Run("create once, get, never replace", func(t *testing.T) {
		s := newStore(t)
		if err := s.Create(ctx, "a/b/c", []byte("first"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, "a/b/c")
		if err != nil || string(got) != "first" {
			t.Fatalf("Get = %q, %v", got, err)
		}
		err = s.Create(ctx, "a/b/c", []byte("second"), time.Time{})
		if !errors.Is(err, ErrExists) {
			t.Fatalf("second Create = %v, want ErrExists", err)
		}
		var keyErr *KeyError
		if !errors.As(err, &keyErr) || keyErr.Key != "a/b/c" {
			t.Errorf("second Create = %#v, want a *KeyError naming the key", err)
		}
		if got, _ := s.Get(ctx, "a/b/c"); string(got) != "first" {
			t.Errorf("after a second Create the object holds %q", got)
		}
	})

	t.Run("an empty object", func(t *testing.T) {
		s := newStore(t)
		if err := s.Create(ctx, "empty", nil, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Get(ctx, "empty"); err != nil || len(got) != 0 {
			t.Fatalf("Get = %q, %v", got, err)
		}
	})

	t.Run("not found", func(t *testing.T) {
		s := newStore(t)
		_, err := s.Get(ctx, "no/such/key")
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get of a missing key = %v, want ErrNotFound", err)
		}
	})

	t.Run("list by prefix, sorted", func(t *testing.T) {
		s := newStore(t)
		keys := []string{"log/tile/0/001", "log/batches/log-2", "log/batches/log-1", "log/batchesx", "other/batches/log-1", "log/tile/0/x001/000"}
		for _, key := range keys {
			if err := s.Create(ctx, key, []byte(key), time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
		for prefix, want := range map[string][]string{
			"":              {"log/batches/log-1", "log/batches/log-2", "log/batchesx", "log/tile/0/001", "log/tile/0/x001/000", "other/batches/log-1"},
			"log/batches/":  {"log/batches/log-1", "log/batches/log-2"},
			"log/batches":   {"log/batches/log-1", "log/batches/log-2", "log/batchesx"},
			"log/tile/":     {"log/tile/0/001", "log/tile/0/x001/000"},
			"log/nothing/":  nil,
			"missing/dir/x": nil,
		} {
			got, err := s.List(ctx, prefix)
			if err != nil {
				t.Fatalf("List(%q): %v", prefix, err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("List(%q) = %q, want %q", prefix, got, want)
			}
		}
	})

	t.Run("keys that would mean another place are refused", func(t *testing.T) {
		s := newStore(t)
		for _, key := range []string{"", "/abs", "a/../b", "..", "a//b", "./a", "a/", `a\b`, "a\nb"} {
			if err := s.Create(ctx, key, []byte("x"), time.Time{}); err == nil || errors.Is(err, ErrExists) {
				t.Errorf("Create(%q) = %v, want it refused", key, err)
			}
			if _, err := s.Get(ctx, key); err == nil || errors.Is(err, ErrNotFound) {
				t.Errorf("Get(%q) = %v, want it refused", key, err)
			}
		}
		if _, err := s.List(ctx, "../"); err == nil {
			t.Error("List(../) is not refused")
		}
	})

	t.Run("concurrent creates of one key: one wins", func(t *testing.T) {
		s := newStore(t)
		const writers = 8
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				errs[i] = s.Create(ctx, "race/key", fmt.Appendf(nil, "writer %d", i), time.Time{})
			})
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Errorf("writers %d and %d both created the key", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, ErrExists):
				t.Errorf("writer %d: %v, want ErrExists", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no writer created the key")
		}
		got, err := s.Get(ctx, "race/key")
		if err != nil || !bytes.Equal(got, fmt.Appendf(nil, "writer %d", winner)) {
			t.Errorf("the key holds %q, %v; writer %d won", got, err, winner)
		}
	})
}
