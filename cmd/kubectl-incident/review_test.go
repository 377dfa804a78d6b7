package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

func reportWithRuns(signed ...string) *securityv1alpha1.IncidentReport {
	rep := &securityv1alpha1.IncidentReport{ObjectMeta: metav1.ObjectMeta{Name: "weekly"}}
	for i, id := range []string{"2026-11-09T09:00:00Z", "2026-11-16T09:00:00Z", "2026-11-23T09:00:00Z"} {
		to := time.Date(2026, 11, 9+7*i, 9, 0, 0, 0, time.UTC)
		rep.Status.Runs = append(rep.Status.Runs, securityv1alpha1.ReportRun{ID: id, From: metav1.NewTime(to.AddDate(0, 0, -7)), To: metav1.NewTime(to)})
	}
	for _, id := range signed {
		rep.Spec.SignOffs = append(rep.Spec.SignOffs, securityv1alpha1.ReportSignOff{Run: id, By: &securityv1alpha1.Attestation{Username: "pat"}})
	}
	return rep
}

func TestLatestUnsigned(t *testing.T) {
	tests := map[string]struct {
		signed []string
		want   string
	}{
		"none signed: the newest":           {want: "2026-11-23T09:00:00Z"},
		"the newest signed: the one before": {signed: []string{"2026-11-23T09:00:00Z"}, want: "2026-11-16T09:00:00Z"},
		"all signed: none":                  {signed: []string{"2026-11-09T09:00:00Z", "2026-11-16T09:00:00Z", "2026-11-23T09:00:00Z"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := latestUnsigned(reportWithRuns(tc.signed...)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// The patch appends to what was read, and fails to apply when someone
// signed off meanwhile; a run signed off already is refused before sending.
func TestSignOffPatch(t *testing.T) {
	read := reportWithRuns("2026-11-09T09:00:00Z")
	body, err := signOffPatch(read, "2026-11-16T09:00:00Z", "checked")
	if err != nil {
		t.Fatal(err)
	}
	patch, err := jsonpatch.DecodePatch(body)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(read)
	out, err := patch.Apply(doc)
	if err != nil {
		t.Fatalf("applying to the report as read: %v", err)
	}
	var got securityv1alpha1.IncidentReport
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if n := len(got.Spec.SignOffs); n != 2 || got.Spec.SignOffs[1].Run != "2026-11-16T09:00:00Z" || got.Spec.SignOffs[1].Note != "checked" || got.Spec.SignOffs[1].By != nil {
		t.Errorf("sign-offs after the patch: %+v", got.Spec.SignOffs)
	}
	meanwhile := reportWithRuns("2026-11-09T09:00:00Z", "2026-11-23T09:00:00Z")
	doc, _ = json.Marshal(meanwhile)
	if _, err := patch.Apply(doc); err == nil {
		t.Error("the patch applied over a sign-off made meanwhile")
	}
	if _, err := signOffPatch(read, "2026-11-09T09:00:00Z", ""); err == nil || !strings.Contains(err.Error(), "already signed off") {
		t.Errorf("signing off a signed run: %v", err)
	}
	first, err := signOffPatch(reportWithRuns(), "2026-11-23T09:00:00Z", "")
	if err != nil || !strings.Contains(string(first), `"path":"/spec/signOffs"`) {
		t.Errorf("the first sign-off creates the list: %s %v", first, err)
	}
}
