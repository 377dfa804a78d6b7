package v1alpha1

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRetainedUntilTakesTheLongestPeriodOfAtLeastADay(t *testing.T) {
	resolved := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	policy := func(after string) *EscalationPolicy {
		p := &EscalationPolicy{}
		if after != "" {
			var d Duration
			if err := d.UnmarshalJSON([]byte(`"` + after + `"`)); err != nil {
				t.Fatal(err)
			}
			p.Spec.Retention = &Retention{After: d}
		}
		return p
	}
	cases := map[string]struct {
		resolved bool
		periods  []string
		want     time.Duration // 0: kept
	}{
		"open":                       {periods: []string{"48h"}},
		"no policy sets one":         {resolved: true, periods: []string{"", ""}},
		"the longest applies":        {resolved: true, periods: []string{"48h", "", "8760h"}, want: 8760 * time.Hour},
		"below a day is never acted": {resolved: true, periods: []string{"1h"}},
		"one that does not parse":    {resolved: true, periods: []string{"two years", "72h"}, want: 72 * time.Hour},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			in := &Incident{}
			if c.resolved {
				in.Status.ResolvedAt = &metav1.Time{Time: resolved}
			}
			policies := map[string]*EscalationPolicy{}
			for i, after := range c.periods {
				policies[string(rune('a'+i))] = policy(after)
			}
			until, ok := in.RetainedUntil(policies)
			switch {
			case c.want == 0 && ok:
				t.Fatalf("retained until %v, want kept", until)
			case c.want != 0 && (!ok || !until.Equal(resolved.Add(c.want))):
				t.Fatalf("retained until %v (%v), want %v", until, ok, resolved.Add(c.want))
			}
		})
	}
}
