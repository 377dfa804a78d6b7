package policytest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// stored is the council's cases as the operator would have stored them:
// run through the samples, every delivery recorded when it was made.
func stored(t testing.TB, objects *Objects, files []CaseFile, now time.Time) []*securityv1alpha1.Incident {
	t.Helper()
	var out []*securityv1alpha1.Incident
	for _, r := range RunAll(t.Context(), objects, files) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		inc := r.Run.Incident
		out = append(out, inc)
	}
	return out
}

func withoutReceiver(objects *Objects, policy, receiver string) *Objects {
	out := *objects
	out.ClusterPolicies = nil
	for _, p := range objects.ClusterPolicies {
		p = p.DeepCopy()
		if p.Name == policy {
			for i := range p.Spec.Escalation.Levels {
				p.Spec.Escalation.Levels[i].Notify = slices.DeleteFunc(p.Spec.Escalation.Levels[i].Notify,
					func(n securityv1alpha1.NotifyTarget) bool { return n.Receiver == receiver })
			}
		}
		out.ClusterPolicies = append(out.ClusterPolicies, p)
	}
	return &out
}

// Replayed through the policies that told them, the stored incidents show
// no change; through a change that drops Internal Audit from the
// organisation's policy, every personal-data breach says Internal Audit
// would not be told, and when it was.
func TestReplayShowsWhoWouldNotBeTold(t *testing.T) {
	objects, files := samples(t)
	now := time.Date(2026, time.March, 20, 0, 0, 0, 0, time.UTC)
	incidents := stored(t, objects, files, now)
	for _, inc := range incidents {
		if r := Replay(t.Context(), objects, inc, map[string]string{"security.incidentops.io/organisation": "council"}, now); r.Err != nil || len(r.Changes) > 0 {
			t.Errorf("%s replayed through the same policies: %v %v", inc.Name, r.Err, r.Changes)
		}
	}
	proposed := withoutReceiver(objects, "personal-data-breach", "internal-audit")
	dropped := 0
	for _, inc := range incidents {
		r := Replay(t.Context(), proposed, inc, map[string]string{"security.incidentops.io/organisation": "council"}, now)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		for _, c := range r.Changes {
			if !c.Dropped() || c.Who != "internal-audit" {
				t.Errorf("%s: unexpected change %s", inc.Name, c)
				continue
			}
			dropped++
			if !strings.Contains(c.String(), "would not be told: internal-audit (told 2026-03-0") {
				t.Errorf("%s: %s", inc.Name, c)
			}
		}
		if inc.Spec.Impact.PersonalData && len(r.Changes) == 0 {
			t.Errorf("%s, a personal-data breach, shows no change", inc.Name)
		}
	}
	if dropped == 0 {
		t.Error("no recipient dropped")
	}
}

// BenchmarkReplay replays 1,000 stored incidents through policies that
// drop a recipient.
func BenchmarkReplay(b *testing.B) {
	objects, files, err := Load([]string{"../../config/samples", "../../config/samples/tests/council.yaml"})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Date(2026, time.March, 20, 0, 0, 0, 0, time.UTC)
	base := stored(b, objects, files, now)
	var incidents []*securityv1alpha1.Incident
	for i := range 1000 {
		inc := base[i%len(base)].DeepCopy()
		inc.Name = fmt.Sprintf("%s-%d", inc.Name, i)
		incidents = append(incidents, inc)
	}
	proposed := withoutReceiver(objects, "personal-data-breach", "internal-audit")
	labels := map[string]string{"security.incidentops.io/organisation": "council"}
	for b.Loop() {
		for _, inc := range incidents {
			if r := Replay(b.Context(), proposed, inc, labels, now); r.Err != nil {
				b.Fatal(r.Err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(len(incidents)), "us/incident")
}

func TestSinceWritesEveryUnit(t *testing.T) {
	at := time.Date(2026, time.March, 2, 9, 30, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{0: "0s", 20 * time.Minute: "20m", 30 * time.Minute: "30m", 3*time.Hour + 50*time.Minute: "3h50m",
		49*time.Hour + 5*time.Second: "2d1h5s", 10 * time.Hour: "10h", -time.Minute: "-1m"} {
		if got := since(at, at.Add(d)); got != want {
			t.Errorf("since(%s) = %q, want %q", d, got, want)
		}
	}
}
