package controllers

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// secretTTL is how long a Secret read for a delivery is reused. A rotated
// receiver URL or key takes effect within it.
const secretTTL = 10 * time.Second

// secretCache is a client.Reader that remembers the Secrets it reads by
// direct GET for secretTTL, so that a burst of deliveries to one receiver
// reads its Secret once instead of once per delivery: each GET is a quorum
// read from etcd. Secrets are still never listed or watched. Only Secrets
// that were found are remembered, so a Secret created to fix a policy is
// seen at once.
type secretCache struct {
	reader client.Reader
	clock  clock.Clock

	mu      sync.Mutex
	entries map[types.NamespacedName]secretEntry
}

type secretEntry struct {
	secret *corev1.Secret
	until  time.Time
}

func newSecretCache(reader client.Reader, clk clock.Clock) *secretCache {
	return &secretCache{reader: reader, clock: clk, entries: map[types.NamespacedName]secretEntry{}}
}

// Get reads a Secret from memory when it was read less than secretTTL ago;
// any other object goes straight to the reader.
func (c *secretCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	secret, ok := obj.(*corev1.Secret)
	if !ok {
		return c.reader.Get(ctx, key, obj, opts...)
	}
	now := c.clock.Now()
	c.mu.Lock()
	e, hit := c.entries[key]
	c.mu.Unlock()
	if hit && now.Before(e.until) {
		e.secret.DeepCopyInto(secret)
		return nil
	}
	if err := c.reader.Get(ctx, key, secret, opts...); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= 256 {
		for k, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, k)
			}
		}
	}
	c.entries[key] = secretEntry{secret: secret.DeepCopy(), until: now.Add(secretTTL)}
	return nil
}

// List is not cached.
func (c *secretCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return c.reader.List(ctx, list, opts...)
}
