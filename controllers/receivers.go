package controllers

import (
	"sync"

	"k8s.io/apimachinery/pkg/types"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/notify"
)

// receiverRenderer parses the receiver's template, or the default one.
func receiverRenderer(r *securityv1alpha1.Receiver) (*notify.Renderer, error) {
	var t notify.Template
	if r.Template != nil {
		t = notify.Template{Title: r.Template.Title, Body: r.Template.Body}
	}
	return notify.NewRenderer(t)
}

// rendererCache keeps each receiver's parsed template for the policy
// generation it came from, so that a send does not parse it again.
type rendererCache struct {
	mu       sync.Mutex
	entries  map[rendererKey]rendererEntry
	fallback *notify.Renderer
}

type rendererKey struct {
	policy   types.NamespacedName
	receiver string
}

type rendererEntry struct {
	uid        types.UID
	generation int64
	renderer   *notify.Renderer
	err        error
}

func (c *rendererCache) get(policy *securityv1alpha1.EscalationPolicy, receiver *securityv1alpha1.Receiver) (*notify.Renderer, error) {
	key := rendererKey{policy: types.NamespacedName{Namespace: policy.Namespace, Name: policy.Name}, receiver: receiver.Name}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok && e.uid == policy.UID && e.generation == policy.Generation {
		return e.renderer, e.err
	}
	renderer, err := receiverRenderer(receiver)
	if c.entries == nil {
		c.entries = map[rendererKey]rendererEntry{}
	}
	c.entries[key] = rendererEntry{uid: policy.UID, generation: policy.Generation, renderer: renderer, err: err}
	return renderer, err
}

// defaultRenderer is the renderer of the default template.
func (c *rendererCache) defaultRenderer() (*notify.Renderer, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fallback == nil {
		r, err := notify.NewRenderer(notify.Template{})
		if err != nil {
			return nil, err
		}
		c.fallback = r
	}
	return c.fallback, nil
}

// forget drops the entries of a policy that is gone.
func (c *rendererCache) forget(policy types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if k.policy == policy {
			delete(c.entries, k)
		}
	}
}
