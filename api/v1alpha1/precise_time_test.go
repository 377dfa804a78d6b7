package v1alpha1

import (
	"encoding/json"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestPreciseTimeRoundTrip(t *testing.T) {
	tests := map[string]struct {
		stored string
		want   time.Time
		// written is what is written back; the stored value when empty.
		written string
	}{
		"a whole second, as stored before":  {stored: `"2026-03-02T09:00:00Z"`, want: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)},
		"a fraction of a second":            {stored: `"2026-03-02T09:00:00.3Z"`, want: time.Date(2026, 3, 2, 9, 0, 0, 300_000_000, time.UTC)},
		"microseconds, as MicroTime writes": {stored: `"2026-03-02T09:00:00.123456Z"`, want: time.Date(2026, 3, 2, 9, 0, 0, 123_456_000, time.UTC)},
		"nanoseconds":                       {stored: `"2026-03-02T09:00:00.123456789Z"`, want: time.Date(2026, 3, 2, 9, 0, 0, 123_456_789, time.UTC)},
		"trailing zeros are not written":    {stored: `"2026-03-02T09:00:00.250000Z"`, want: time.Date(2026, 3, 2, 9, 0, 0, 250_000_000, time.UTC), written: `"2026-03-02T09:00:00.25Z"`},
		"an offset is written in UTC":       {stored: `"2026-03-02T10:00:00.5+01:00"`, want: time.Date(2026, 3, 2, 9, 0, 0, 500_000_000, time.UTC), written: `"2026-03-02T09:00:00.5Z"`},
		"null":                              {stored: `null`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got PreciseTime
			if err := json.Unmarshal([]byte(tc.stored), &got); err != nil {
				t.Fatalf("Unmarshal(%s): %v", tc.stored, err)
			}
			if !got.Equal(tc.want) {
				t.Errorf("Unmarshal(%s) = %s, want %s", tc.stored, got.UTC().Format(time.RFC3339Nano), tc.want.Format(time.RFC3339Nano))
			}
			out, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.written
			if want == "" {
				want = tc.stored
			}
			if string(out) != want {
				t.Errorf("Marshal = %s, want %s", out, want)
			}
		})
	}
}

func TestPreciseTimeRefusesWhatIsNotATime(t *testing.T) {
	for _, stored := range []string{`"2026-03-02 09:00:00"`, `"2026-03-02"`, `""`, `42`} {
		var got PreciseTime
		if err := json.Unmarshal([]byte(stored), &got); err == nil {
			t.Errorf("Unmarshal(%s) = %s, want an error", stored, got)
		}
	}
}

// TestPreciseTimeAndMetav1Time: objects stored with a metav1.Time's whole
// seconds decode, and a client that reads the field as a metav1.Time still
// parses what a PreciseTime writes.
func TestPreciseTimeAndMetav1Time(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 300_000_000, time.UTC)

	old, err := json.Marshal(metav1.NewTime(at))
	if err != nil {
		t.Fatal(err)
	}
	var decoded PreciseTime
	if err := json.Unmarshal(old, &decoded); err != nil || !decoded.Equal(at.Truncate(time.Second)) {
		t.Errorf("a metav1.Time's %s decodes as %s (%v), want the whole second", old, decoded.Time, err)
	}

	written, err := json.Marshal(NewPreciseTime(at))
	if err != nil {
		t.Fatal(err)
	}
	var read metav1.Time
	if err := json.Unmarshal(written, &read); err != nil || !read.Time.Equal(at) {
		t.Errorf("a metav1.Time reads %s as %s (%v), want %s", written, read.Time, err, at)
	}
}

func TestRoutedAtKeepsItsFractionInAnIncident(t *testing.T) {
	at := NewPreciseTime(time.Date(2026, 3, 2, 9, 0, 0, 300_000_000, time.UTC))
	in := &Incident{Status: IncidentStatus{RoutedAt: &at}}

	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var back Incident
	if err := json.Unmarshal(b, &back); err != nil || back.Status.RoutedAt == nil || !back.Status.RoutedAt.Equal(at.Time) {
		t.Errorf("JSON: routedAt %v (%v), want %s", back.Status.RoutedAt, err, at.Format(time.RFC3339Nano))
	}

	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := u["status"].(map[string]any)["routedAt"]; got != "2026-03-02T09:00:00.3Z" {
		t.Errorf("unstructured routedAt = %v, want 2026-03-02T09:00:00.3Z", got)
	}
	var fromU Incident
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u, &fromU); err != nil || fromU.Status.RoutedAt == nil || !fromU.Status.RoutedAt.Equal(at.Time) {
		t.Errorf("unstructured: routedAt %v (%v), want %s", fromU.Status.RoutedAt, err, at.Format(time.RFC3339Nano))
	}

	copied := in.DeepCopy()
	copied.Status.RoutedAt.Time = copied.Status.RoutedAt.Add(time.Second)
	if !in.Status.RoutedAt.Equal(at.Time) {
		t.Error("DeepCopy shares routedAt with the original")
	}
}

// TestStatusesWithPreciseTimesCompare: the operator writes status only when
// equality.Semantic finds it changed, and that must neither panic on a
// PreciseTime nor tell one instant from itself in another location.
func TestStatusesWithPreciseTimesCompare(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 300_000_000, time.UTC)
	status := func(t time.Time) *IncidentStatus {
		p := NewPreciseTime(t)
		return &IncidentStatus{RoutedAt: &p}
	}
	tests := map[string]struct {
		a, b *IncidentStatus
		want bool
	}{
		"the same instant":                {status(at), status(at), true},
		"the same instant, another place": {status(at), status(at.In(time.FixedZone("CET", 3600))), true},
		"read back from the clock":        {status(at), &IncidentStatus{RoutedAt: &PreciseTime{Time: at}}, true},
		"a nanosecond apart":              {status(at), status(at.Add(time.Nanosecond)), false},
		"unset and set":                   {&IncidentStatus{}, status(at), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := equality.Semantic.DeepEqual(tc.a, tc.b); got != tc.want {
				t.Errorf("Semantic.DeepEqual = %v, want %v", got, tc.want)
			}
		})
	}
}
