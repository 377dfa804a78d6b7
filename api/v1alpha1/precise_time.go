package v1alpha1

import (
	"encoding/json"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
)

// PreciseTime is an instant kept to the nanosecond, written in RFC 3339
// with the fraction of a second when it has one: 2026-03-02T09:00:00.3Z.
//
// A metav1.Time keeps whole seconds, so every deadline derived from one
// falls on a whole second, and incidents routed within the same second
// would all fall due in the same instant. A metav1.MicroTime keeps the
// fraction, but cannot read a time written without one, as objects
// stored before held. A PreciseTime reads both, and a client that reads
// the field as a metav1.Time still parses what it writes (RFC 3339 allows
// the fraction; such a client drops it only when it writes the time back).
//
// +kubebuilder:validation:Type=string
// +kubebuilder:validation:Format=date-time
type PreciseTime struct {
	time.Time `json:"-"`
}

// equality.Semantic, which compares API objects field by field, cannot look
// inside a time.Time; it compares a PreciseTime as the instant it is, as it
// does a metav1.Time.
func init() {
	if err := equality.Semantic.AddFunc(func(a, b PreciseTime) bool { return a.Equal(b.Time) }); err != nil {
		panic(err)
	}
}

// NewPreciseTime is t as status records it: the instant, without the
// monotonic clock reading, which no stored time has.
func NewPreciseTime(t time.Time) PreciseTime {
	return PreciseTime{Time: t.Round(0)}
}

// UnmarshalJSON reads RFC 3339 with or without a fraction of a second, and
// null as the zero time.
func (t *PreciseTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	parsed, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return err
	}
	t.Time = parsed.Local()
	return nil
}

// MarshalJSON writes the instant in UTC, to the nanosecond, without
// trailing zeros: a whole second is written as a metav1.Time writes it.
func (t PreciseTime) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.UTC().Format(time.RFC3339Nano))
}

// ToUnstructured is what the unstructured converter writes.
func (t PreciseTime) ToUnstructured() any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// DeepCopyInto copies the instant; a time.Time is a value, whose location
// is shared and never changed.
func (t *PreciseTime) DeepCopyInto(out *PreciseTime) {
	*out = *t
}
