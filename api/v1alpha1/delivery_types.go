package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DeliveryState is the state of one delivery.
// +kubebuilder:validation:Enum=Pending;Delivered;Failed;Abandoned
type DeliveryState string

const (
	// DeliveryPending: the delivery is due and not yet made.
	DeliveryPending DeliveryState = "Pending"
	// DeliveryDelivered: the receiver accepted the delivery.
	DeliveryDelivered DeliveryState = "Delivered"
	// DeliveryFailed: the last attempt failed; it is retried with backoff.
	DeliveryFailed DeliveryState = "Failed"
	// DeliveryAbandoned: every attempt allowed failed. An incident
	// policy's fallback receiver, if it names one, is told instead.
	DeliveryAbandoned DeliveryState = "Abandoned"
)

// DeliveryAttempt is where one delivery to one receiver stands: what
// identifies it, how often it was tried, and when it is tried next. Every
// record of something sent, an incident's notification and a report's
// delivery alike, embeds it, so that one ledger (internal/delivery)
// retries and abandons them all the same way.
type DeliveryAttempt struct {
	// Key identifies the delivery. It is sent as the Idempotency-Key
	// (webhook) and in the Message-ID (e-mail), and is the same on every
	// retry, so receivers can drop duplicates.
	Key string `json:"key"`
	// Receiver that the delivery goes to.
	Receiver string `json:"receiver"`
	// Channel is the kind of receiver, such as webhook or email.
	Channel string `json:"channel"`
	// State of the delivery.
	State DeliveryState `json:"state"`
	// Attempts made so far.
	// +optional
	Attempts int32 `json:"attempts,omitempty"`
	// LastAttemptAt is when the last attempt was made.
	// +optional
	LastAttemptAt *metav1.Time `json:"lastAttemptAt,omitempty"`
	// NextAttemptAt is when a failed delivery is retried.
	// +optional
	NextAttemptAt *metav1.Time `json:"nextAttemptAt,omitempty"`
	// DeliveredAt is when the receiver accepted the delivery.
	// +optional
	DeliveredAt *metav1.Time `json:"deliveredAt,omitempty"`
	// LastError is why the last attempt failed.
	// +optional
	LastError string `json:"lastError,omitempty"`
}
