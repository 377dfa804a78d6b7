package controllers

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// incidentWakeups brings an incident back to its reconcile when work done
// outside it ends: a send the reconcile stopped waiting for, or an export
// to the audit sink. The reconcile then records the outcome.
type incidentWakeups struct {
	events chan event.GenericEvent
}

func newIncidentWakeups() *incidentWakeups {
	return &incidentWakeups{events: make(chan event.GenericEvent, 1024)}
}

// wake queues the incident's reconcile. A wakeup that finds the queue of
// wakeups full is dropped: the incident is looked at again on a timer too.
func (w *incidentWakeups) wake(namespace, name string) {
	if w == nil {
		return
	}
	incident := &securityv1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	select {
	case w.events <- event.GenericEvent{Object: incident}:
	default:
	}
}

// waker wakes the incident when called.
func (w *incidentWakeups) waker(incident *securityv1alpha1.Incident) func() {
	namespace, name := incident.Namespace, incident.Name
	return func() { w.wake(namespace, name) }
}

// source is what the incident controller watches for wakeups.
func (w *incidentWakeups) source() source.Source {
	return source.Channel(w.events, &handler.EnqueueRequestForObject{})
}
