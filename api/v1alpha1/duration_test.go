package v1alpha1

import (
	"encoding/json"
	"testing"
	"time"
)

func TestDurationDecodesWhatEverWasStored(t *testing.T) {
	tests := map[string]struct {
		stored  string
		want    time.Duration
		invalid bool
	}{
		"minutes":        {stored: `"15m"`, want: 15 * time.Minute},
		"compound":       {stored: `"1h30m"`, want: 90 * time.Minute},
		"fraction":       {stored: `"1.5h"`, want: 90 * time.Minute},
		"in words":       {stored: `"5 minutes"`, invalid: true},
		"days":           {stored: `"1d"`, invalid: true},
		"overflow":       {stored: `"1e100h"`, invalid: true},
		"huge":           {stored: `"9999999999999h"`, invalid: true},
		"negative":       {stored: `"-72h"`, invalid: true},
		"empty":          {stored: `""`, invalid: true},
		"not a string":   {stored: `42`, invalid: true},
		"zero":           {stored: `"0s"`, want: 0},
		"a bare integer": {stored: `"0"`, want: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var d Duration
			if err := json.Unmarshal([]byte(tc.stored), &d); err != nil {
				t.Fatalf("Unmarshal(%s) failed: %v; one bad value must not stop the whole list decoding", tc.stored, err)
			}
			if got := d.Err() != nil; got != tc.invalid {
				t.Fatalf("Err() = %v, want invalid=%v", d.Err(), tc.invalid)
			}
			if !tc.invalid && d.Duration != tc.want {
				t.Errorf("Duration = %v, want %v", d.Duration, tc.want)
			}
			out, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			if tc.invalid && tc.stored[0] == '"' && string(out) != tc.stored {
				t.Errorf("an invalid value must be written back as stored: %s, want %s", out, tc.stored)
			}
		})
	}
}

func TestDurationInAPolicyList(t *testing.T) {
	list := `{"items":[
		{"metadata":{"name":"typo"},"spec":{"escalation":{"levels":[{"notify":[{"receiver":"a"}]},{"after":"5 minutes","notify":[{"receiver":"a"}]}]}}},
		{"metadata":{"name":"fine"},"spec":{"escalation":{"levels":[{"notify":[{"receiver":"a"}]},{"after":"5m","notify":[{"receiver":"a"}]}]}}}]}`
	var policies EscalationPolicyList
	if err := json.Unmarshal([]byte(list), &policies); err != nil {
		t.Fatalf("a list with one bad policy does not decode: %v", err)
	}
	if err := policies.Items[0].Spec.Escalation.Levels[1].After.Err(); err == nil {
		t.Error("the typo is not reported")
	}
	if got := policies.Items[1].Spec.Escalation.Levels[1].After.Duration; got != 5*time.Minute {
		t.Errorf("the good policy's after = %v", got)
	}
}

// FuzzDuration: any stored value decodes without error; it is valid exactly
// when Go parses it as a non-negative duration, and it is written back so
// that decoding again gives the same.
func FuzzDuration(f *testing.F) {
	for _, s := range []string{"15m", "1h30m", "5 minutes", "1d", "1e100h", "-72h", "", "0", "9223372036854775807ns", "1.5µs", ".5s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		raw, err := json.Marshal(s)
		if err != nil {
			t.Skip()
		}
		var d Duration
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("Unmarshal(%s): %v", raw, err)
		}
		parsed, perr := time.ParseDuration(s)
		if valid := perr == nil && parsed >= 0; valid != (d.Err() == nil) {
			t.Fatalf("%q: Err() = %v, but ParseDuration gives %v, %v", s, d.Err(), parsed, perr)
		}
		out, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var again Duration
		if err := json.Unmarshal(out, &again); err != nil || again != d {
			t.Fatalf("%q: round trip gave %+v from %s, want %+v", s, again, out, d)
		}
	})
}
