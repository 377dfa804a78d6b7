package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
)

// Event reasons, one word each, as people filter on them.
const (
	EventRouted             = "Routed"
	EventNoMatchingPolicy   = "NoMatchingPolicy"
	EventPolicyNotEvaluated = "PolicyNotEvaluated"
	EventNotificationSent   = "NotificationSent"
	EventNotificationFailed = "NotificationFailed"
	// EventNotificationAbandoned: a notification used up its attempts.
	EventNotificationAbandoned = "NotificationAbandoned"
)

// eventRecorder emits events/v1 Events about one object.
type eventRecorder struct {
	recorder recorder.EventRecorder
	// warningsOnly drops Normal events: each costs an API write and memory.
	warningsOnly bool
}

func (e eventRecorder) normal(obj runtime.Object, reason, action, format string, args ...any) {
	if e.warningsOnly {
		return
	}
	e.recorder.Eventf(obj, nil, corev1.EventTypeNormal, reason, action, format, args...)
}

func (e eventRecorder) warning(obj runtime.Object, reason, action, format string, args ...any) {
	e.recorder.Eventf(obj, nil, corev1.EventTypeWarning, reason, action, format, args...)
}

// warningRelated is a Warning about obj that concerns another object too.
// The related object is part of what makes events distinct: events/v1
// folds events that differ only in their note into one series.
func (e eventRecorder) warningRelated(obj, related runtime.Object, reason, action, format string, args ...any) {
	e.recorder.Eventf(obj, related, corev1.EventTypeWarning, reason, action, format, args...)
}
