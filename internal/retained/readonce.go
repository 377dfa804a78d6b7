package retained

import (
	"context"
	"sync"

	"github.com/incidentops/incident-operator/internal/archive"
)

// readOnce is a store that reads each object and each listing once: the
// check of each archived incident reads the log's batches from its start
// (archive.CheckRetained), and objects are written once and never
// replaced, so the checks of many incidents share one read of each. It
// lives for one call; what it keeps is dropped with it.
type readOnce struct {
	archive.Store

	mu     sync.Mutex
	got    map[string][]byte
	listed map[string][]string
}

func newReadOnce(store archive.Store) *readOnce {
	return &readOnce{Store: store, got: map[string][]byte{}, listed: map[string][]string{}}
}

func (s *readOnce) Get(ctx context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	data, ok := s.got[key]
	s.mu.Unlock()
	if ok {
		return data, nil
	}
	data, err := s.Store.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.got[key] = data
	s.mu.Unlock()
	return data, nil
}

func (s *readOnce) List(ctx context.Context, prefix string) ([]string, error) {
	s.mu.Lock()
	keys, ok := s.listed[prefix]
	s.mu.Unlock()
	if ok {
		return keys, nil
	}
	keys, err := s.Store.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.listed[prefix] = keys
	s.mu.Unlock()
	return keys, nil
}
