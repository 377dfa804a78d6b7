package v1alpha1

import (
	"encoding/json"
	"fmt"
	"time"
)

// Duration is a length of time as Go writes it: 90s, 15m, 4h, 1h30m.
//
// The API server refuses anything else. Unlike metav1.Duration, it
// still decodes a value that does not parse (one stored before validation
// tightened, or written around it), remembering it as invalid: one bad
// object must be reported on itself, not make the operator unable to read
// every other object of its kind.
//
// +kubebuilder:validation:Type=string
// +kubebuilder:validation:MaxLength=32
// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$')",message="must be a duration such as 90s, 15m, 4h or 1h30m: digits then a unit (ms, s, m, h), no spaces, no days"
type Duration struct {
	// Duration is the length of time; zero when the stored value is invalid.
	Duration time.Duration `json:"-"`
	// invalid is set when the stored value, raw, does not parse.
	invalid bool
	raw     string
}

// NewDuration is a Duration of d.
func NewDuration(d time.Duration) *Duration { return &Duration{Duration: d} }

// Err says why the stored value is not a duration, or nil when it is one.
func (d *Duration) Err() error {
	if d == nil || !d.invalid {
		return nil
	}
	return fmt.Errorf("%q is not a duration such as 90s, 15m, 4h or 1h30m", d.raw)
}

// UnmarshalJSON never fails on a string: a value that does not parse is kept
// and reported by Err.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		d.Duration, d.invalid, d.raw = 0, true, string(b)
		return nil
	}
	return d.parse(s)
}

func (d *Duration) parse(s string) error {
	parsed, err := time.ParseDuration(s)
	if err != nil || parsed < 0 {
		d.Duration, d.invalid, d.raw = 0, true, s
		return nil
	}
	d.Duration, d.invalid, d.raw = parsed, false, ""
	return nil
}

// MarshalJSON writes the duration, or the invalid value as it was stored.
func (d Duration) MarshalJSON() ([]byte, error) {
	if d.invalid {
		return json.Marshal(d.raw)
	}
	return json.Marshal(d.Duration.String())
}

// ToUnstructured is what the unstructured converter writes.
func (d Duration) ToUnstructured() any {
	if d.invalid {
		return d.raw
	}
	return d.Duration.String()
}

// String is the duration as Go writes it, or the invalid value.
func (d Duration) String() string {
	if d.invalid {
		return d.raw
	}
	return d.Duration.String()
}
