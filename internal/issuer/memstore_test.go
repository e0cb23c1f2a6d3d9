package issuer_test

import (
	"context"
	"errors"
	"sync"

	"github.com/graphdir/graphdir/internal/directory"
)

// memStore is an in-memory directory.KeyStore with the same first-writer-wins
// semantics as the Postgres one.
type memStore struct {
	mu    sync.Mutex
	keys  map[string][]directory.SigningKey
	reads int
	fail  error
}

func newMemStore() *memStore { return &memStore{keys: map[string][]directory.SigningKey{}} }

func (s *memStore) SigningKeys(_ context.Context, tenantID string) ([]directory.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	if s.fail != nil {
		return nil, s.fail
	}
	return append([]directory.SigningKey(nil), s.keys[tenantID]...), nil
}

func (s *memStore) AddSigningKeyIfNone(_ context.Context, k directory.SigningKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	if len(s.keys[k.TenantID]) == 0 {
		s.keys[k.TenantID] = []directory.SigningKey{k}
	}
	return nil
}

func (s *memStore) Secret(context.Context, string, func() ([]byte, error)) ([]byte, error) {
	return nil, errors.New("not implemented")
}

func (s *memStore) count(tenantID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys[tenantID])
}
