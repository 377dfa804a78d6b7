package controllers

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// patchStatus writes obj's status if it differs from before's. The patch
// carries before's resourceVersion, so a status computed from a stale read
// fails with a conflict instead of overwriting a newer one; the reconcile is
// then retried from a fresh read.
func patchStatus[T client.Object](ctx context.Context, c client.Client, obj, before T, status func(T) any) error {
	if equality.Semantic.DeepEqual(status(obj), status(before)) {
		return nil
	}
	return c.Status().Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}

// cacheSyncTimeout bounds how long a reconcile waits for the cache to show
// its own status write.
const cacheSyncTimeout = 2 * time.Second

// waitForCache waits until the cache holds obj at the resourceVersion the
// last write returned. Without it, the reconcile that our own write's first
// event queues could read the object as it was before a later write, and
// repeat work that write recorded, such as a delivery. A foreign write in
// between only makes this wait time out; the optimistic lock on status
// patches still guards against acting on the older state.
func waitForCache[T client.Object](ctx context.Context, cache client.Reader, obj T, empty func() T) {
	ctx, cancel := context.WithTimeout(ctx, cacheSyncTimeout)
	defer cancel()
	key := client.ObjectKeyFromObject(obj)
	want := obj.GetResourceVersion()
	_ = wait.PollUntilContextCancel(ctx, 5*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		current := empty()
		if err := cache.Get(ctx, key, current); err != nil {
			return false, nil
		}
		return current.GetResourceVersion() == want, nil
	})
}

// setCondition sets a condition, stamping the generation it was computed
// from and, when its status changes, the time from the operator's clock:
// tests that move the clock see transitions at the time they caused them.
func setCondition(conditions *[]metav1.Condition, generation int64, now time.Time, conditionType string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(conditions, metav1.Condition{
		Type:               conditionType,
		Status:             status,
		ObservedGeneration: generation,
		Reason:             reason,
		Message:            message,
		LastTransitionTime: metav1.NewTime(now.Truncate(time.Second)),
	})
}

// markReady records a successful reconcile in the kstatus vocabulary.
func markReady(conditions *[]metav1.Condition, generation int64, now time.Time, message string) {
	setCondition(conditions, generation, now, securityv1alpha1.ConditionReady, metav1.ConditionTrue, securityv1alpha1.ReasonSucceeded, message)
	meta.RemoveStatusCondition(conditions, securityv1alpha1.ConditionReconciling)
	meta.RemoveStatusCondition(conditions, securityv1alpha1.ConditionStalled)
}

// markStalled records a state that needs a person to act: Ready=False and
// Stalled=True, which kstatus reports as Failed.
func markStalled(conditions *[]metav1.Condition, generation int64, now time.Time, reason, message string) {
	setCondition(conditions, generation, now, securityv1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
	setCondition(conditions, generation, now, securityv1alpha1.ConditionStalled, metav1.ConditionTrue, reason, message)
	meta.RemoveStatusCondition(conditions, securityv1alpha1.ConditionReconciling)
}

// markReconciling records work still in progress: Ready=False and
// Reconciling=True, which kstatus reports as InProgress.
func markReconciling(conditions *[]metav1.Condition, generation int64, now time.Time, reason, message string) {
	setCondition(conditions, generation, now, securityv1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
	setCondition(conditions, generation, now, securityv1alpha1.ConditionReconciling, metav1.ConditionTrue, reason, message)
	meta.RemoveStatusCondition(conditions, securityv1alpha1.ConditionStalled)
}
