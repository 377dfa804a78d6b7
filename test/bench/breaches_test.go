package bench_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// breaches follows a namespace's incidents and records how long after its
// deadline each was first seen with SLABreached.
//
// Under load the API server closes watches, and a watch can end with an
// error event rather than an object. The watch is then resumed from the
// last resourceVersion seen, and when that version is too old to resume
// from, the incidents are listed again; a breach first seen in such a list
// is counted when it is seen, as it would be by any other client.
//
// follow runs on one goroutine; what it recorded is read once it returned.
type breaches struct {
	namespace string
	// deadline is when an incident falls due, to the nanosecond.
	deadline func(*securityv1alpha1.Incident) (time.Time, error)

	lags        map[string]time.Duration
	first, last time.Time
	// rewatches and relists count how often the watch was resumed, and
	// the incidents listed again.
	rewatches, relists int
}

// maxWatchFailures is how many watches or lists in a row may fail before
// the measurement gives up.
const maxWatchFailures = 10

// follow watches until n incidents were seen breached, ctx ends, or the
// incidents cannot be watched any more; it says why when it stops short.
func (b *breaches) follow(ctx context.Context, c client.WithWatch, n int) error {
	version, failures := "", 0
	var cause error
	for len(b.lags) < n {
		if failures >= maxWatchFailures {
			return fmt.Errorf("%d watches or lists in a row failed, the last with: %w", failures, cause)
		}
		if failures > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(time.Duration(failures) * 100 * time.Millisecond):
			}
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w; the watch was resumed %d times and listed again %d times, the last time because: %v", ctx.Err(), b.rewatches, b.relists, cause)
		}
		if version == "" {
			list := &securityv1alpha1.IncidentList{}
			if cause = c.List(ctx, list, client.InNamespace(b.namespace)); cause != nil {
				failures++
				continue
			}
			for i := range list.Items {
				if err := b.observe(&list.Items[i]); err != nil {
					return err
				}
			}
			version = list.ResourceVersion
		}
		w, err := c.Watch(ctx, &securityv1alpha1.IncidentList{}, client.InNamespace(b.namespace),
			&client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: version, AllowWatchBookmarks: true}})
		if err != nil {
			if cause = err; isExpired(err) {
				version = ""
				b.relists++
			}
			failures++
			continue
		}
		var seen bool
		version, seen, cause = b.events(w, version, n)
		w.Stop()
		if seen {
			failures = 0
		}
		var bad badDeadline
		switch {
		case errors.As(cause, &bad):
			return cause
		case version == "":
			b.relists++
		case len(b.lags) < n:
			b.rewatches++
		}
	}
	return nil
}

// events reads w until it ends or n incidents were seen breached, and
// returns the resourceVersion to resume from (empty when it is too old),
// whether any event came, and why the watch ended.
func (b *breaches) events(w watch.Interface, version string, n int) (string, bool, error) {
	seen := false
	for ev := range w.ResultChan() {
		if ev.Type == watch.Error {
			err := apierrors.FromObject(ev.Object)
			if isExpired(err) {
				return "", seen, err
			}
			return version, seen, err
		}
		seen = true
		inc, ok := ev.Object.(*securityv1alpha1.Incident)
		if !ok {
			continue
		}
		version = inc.ResourceVersion
		if ev.Type == watch.Added || ev.Type == watch.Modified {
			if err := b.observe(inc); err != nil {
				return version, seen, err
			}
		}
		if len(b.lags) >= n {
			return version, seen, nil
		}
	}
	return version, seen, errors.New("the API server closed the watch")
}

func isExpired(err error) bool { return apierrors.IsResourceExpired(err) || apierrors.IsGone(err) }

// badDeadline is an incident whose deadline cannot be worked out: the
// measurement would be wrong, so it stops.
type badDeadline struct{ error }

// observe records inc's lag the first time it is seen breached.
func (b *breaches) observe(inc *securityv1alpha1.Incident) error {
	if !meta.IsStatusConditionTrue(inc.Status.Conditions, securityv1alpha1.ConditionSLABreached) {
		return nil
	}
	if _, done := b.lags[inc.Name]; done {
		return nil
	}
	by, err := b.deadline(inc)
	if err != nil {
		return badDeadline{fmt.Errorf("incident %s: %w", inc.Name, err)}
	}
	if b.lags == nil {
		b.lags = map[string]time.Duration{}
	}
	b.lags[inc.Name] = time.Since(by)
	if b.first.IsZero() || by.Before(b.first) {
		b.first = by
	}
	if by.After(b.last) {
		b.last = by
	}
	return nil
}

// spread is the time between the first and the last deadline seen.
func (b *breaches) spread() time.Duration { return b.last.Sub(b.first) }
