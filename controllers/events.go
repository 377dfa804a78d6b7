package controllers

import (
	"fmt"
	"reflect"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
	// EventStatusNotRecorded: the API server refused the incident's status.
	EventStatusNotRecorded = "StatusNotRecorded"
	// EventAuditNotRecorded: the audit trail could not be written, so
	// neither was the status; the reconcile is retried.
	EventAuditNotRecorded = "AuditNotRecorded"
	// EventAuditNotExported: the audit sink did not take entries; they are
	// sent again.
	EventAuditNotExported = "AuditNotExported"
)

// eventRecorder emits events/v1 Events about one object.
type eventRecorder struct {
	recorder recorder.EventRecorder
	// scheme names the kinds of the objects events are about.
	scheme *runtime.Scheme
	// warningsOnly drops Normal events: each costs an API write and memory.
	warningsOnly bool
}

// Limits of events/v1, in bytes: the API server refuses an event over them,
// and the recorder does not retry. Condition messages have a limit too.
const (
	maxEventAction      = 128
	maxEventNote        = 1024
	maxConditionMessage = 32768
)

func (e eventRecorder) normal(obj runtime.Object, reason, action, format string, args ...any) {
	if e.warningsOnly {
		return
	}
	if o, ok := obj.(client.Object); ok && !normalEvents.allow(o.GetNamespace()) {
		return
	}
	e.emit(obj, nil, corev1.EventTypeNormal, reason, action, format, args...)
}

func (e eventRecorder) warning(obj runtime.Object, reason, action, format string, args ...any) {
	e.emit(obj, nil, corev1.EventTypeWarning, reason, action, format, args...)
}

// warningRelated is a Warning about obj that concerns another object too.
// The related object is part of what makes events distinct: events/v1
// folds events that differ only in their note into one series.
func (e eventRecorder) warningRelated(obj, related runtime.Object, reason, action, format string, args ...any) {
	e.emit(obj, related, corev1.EventTypeWarning, reason, action, format, args...)
}

// emit cuts the action and the note to the API's limits, so that no event
// is refused for its length.
func (e eventRecorder) emit(obj, related runtime.Object, eventType, reason, action, format string, args ...any) {
	note := truncateBytes(fmt.Sprintf(format, args...), maxEventNote)
	e.recorder.Eventf(e.subject(obj), e.subject(related), eventType, reason, truncateBytes(action, maxEventAction), "%s", note)
}

// subject is the object an event refers to, without its resourceVersion:
// events/v1 folds repeats into a series only when they refer to the same
// object reference, and every status write changes the version, so each
// retry of a failing receiver would otherwise be an Event of its own.
func (e eventRecorder) subject(obj runtime.Object) runtime.Object {
	o, ok := obj.(client.Object)
	if !ok || e.scheme == nil || reflect.ValueOf(o).IsNil() {
		return obj
	}
	gvks, _, err := e.scheme.ObjectKinds(obj)
	if err != nil || len(gvks) == 0 {
		return obj
	}
	ref := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: o.GetNamespace(), Name: o.GetName(), UID: o.GetUID()}}
	ref.SetGroupVersionKind(gvks[0])
	return ref
}

// truncateBytes cuts s to at most limit bytes, on a rune boundary, marking
// the cut with an ellipsis that counts towards the limit.
func truncateBytes(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	const ellipsis = "…"
	cut := limit - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
