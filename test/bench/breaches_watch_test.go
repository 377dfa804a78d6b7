package bench_test

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/testenv"
)

// closingWatches is the API server under load: each watch it opens ends
// after a few events, every other one with the error a client gets when
// the version it would resume from is too old.
type closingWatches struct {
	client.WithWatch
	after  int
	opened int
}

func (c *closingWatches) Watch(ctx context.Context, list client.ObjectList, opts ...client.ListOption) (watch.Interface, error) {
	w, err := c.WithWatch.Watch(ctx, list, opts...)
	if err != nil {
		return nil, err
	}
	c.opened++
	expire := c.opened%2 == 0
	events := make(chan watch.Event)
	proxy := watch.NewProxyWatcher(events)
	go func() {
		defer close(events)
		defer w.Stop()
		for range c.after {
			var ev watch.Event
			select {
			case e, ok := <-w.ResultChan():
				if !ok {
					return
				}
				ev = e
			case <-proxy.StopChan():
				return
			}
			select {
			case events <- ev:
			case <-proxy.StopChan():
				return
			}
		}
		if expire {
			gone := &metav1.Status{Status: metav1.StatusFailure, Code: 410, Reason: metav1.StatusReasonExpired, Message: "too old resource version"}
			select {
			case events <- watch.Event{Type: watch.Error, Object: gone}:
			case <-proxy.StopChan():
			}
		}
	}()
	return proxy, nil
}

// refusedWatches is an API server that refuses every watch.
type refusedWatches struct{ client.WithWatch }

func (refusedWatches) Watch(context.Context, client.ObjectList, ...client.ListOption) (watch.Interface, error) {
	return nil, apierrors.NewForbidden(schema.GroupResource{Group: securityv1alpha1.GroupVersion.Group, Resource: "incidents"}, "", nil)
}

// TestBreachesAreFollowedAcrossClosedWatches: when the API server closes
// the watch, the measurement resumes it from the last version it saw, and
// lists again when that version is too old, until it has seen every breach.
func TestBreachesAreFollowedAcrossClosedWatches(t *testing.T) {
	const n = 12
	ns := newNamespace(t, "breaches")
	watcher, err := client.NewWithWatch(restConfig, client.Options{Scheme: testenv.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	due := time.Now()
	b := &breaches{namespace: ns, deadline: func(*securityv1alpha1.Incident) (time.Time, error) { return due, nil }}
	server := &closingWatches{WithWatch: watcher, after: 3}
	stopped := make(chan error, 1)
	go func() { stopped <- b.follow(ctx, server, n) }()

	// Breached as the operator would leave them; no operator runs here.
	for i := range n {
		inc := incident(ns, i)
		if err := k8sClient.Create(ctx, inc); err != nil {
			t.Fatal(err)
		}
		meta.SetStatusCondition(&inc.Status.Conditions, metav1.Condition{Type: securityv1alpha1.ConditionSLABreached, Status: metav1.ConditionTrue,
			Reason: securityv1alpha1.ReasonAcknowledgeTargetMissed, Message: "the acknowledge target was missed"})
		if err := k8sClient.Status().Update(ctx, inc); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-stopped; err != nil {
		t.Fatalf("%d of %d breaches seen: %v", len(b.lags), n, err)
	}
	if len(b.lags) != n || b.rewatches == 0 || b.relists == 0 {
		t.Errorf("%d breaches seen over %d watches, resumed %d times and listed again %d times; want %d, resumed and listed again",
			len(b.lags), server.opened, b.rewatches, b.relists, n)
	}
}

// TestBreachesSayWhyTheyStop: when incidents cannot be watched at all, the
// measurement stops and says why.
func TestBreachesSayWhyTheyStop(t *testing.T) {
	ns := newNamespace(t, "refused")
	watcher, err := client.NewWithWatch(restConfig, client.Options{Scheme: testenv.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	b := &breaches{namespace: ns, deadline: func(*securityv1alpha1.Incident) (time.Time, error) { return time.Now(), nil }}
	err = b.follow(context.Background(), refusedWatches{watcher}, 1)
	if err == nil || !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "in a row failed") {
		t.Errorf("follow = %v, want it to give up, saying the watches were forbidden", err)
	}
}
