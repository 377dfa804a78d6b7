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
)

// eventRecorder emits events/v1 Events about one object.
type eventRecorder struct {
	recorder recorder.EventRecorder
}

func (e eventRecorder) normal(obj runtime.Object, reason, action, format string, args ...any) {
	e.recorder.Eventf(obj, nil, corev1.EventTypeNormal, reason, action, format, args...)
}

func (e eventRecorder) warning(obj runtime.Object, reason, action, format string, args ...any) {
	e.recorder.Eventf(obj, nil, corev1.EventTypeWarning, reason, action, format, args...)
}
