package audit

import (
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

func TestSegment(t *testing.T) {
	for seq, want := range map[int64]int64{0: 0, 255: 0, 256: 1, 511: 1, 512: 2} {
		if got := Segment(seq); got != want {
			t.Errorf("Segment(%d) = %d, want %d", seq, got, want)
		}
	}
}

func TestTrailName(t *testing.T) {
	longest := strings.Repeat("a", 253)
	tests := map[string]struct {
		subject string
		segment int64
		want    string // "" to check only that it is a valid name
	}{
		"short":                           {subject: "laptop-stolen", segment: 0, want: "laptop-stolen.audit-0"},
		"later segment":                   {subject: "laptop-stolen", segment: 390, want: "laptop-stolen.audit-390"},
		"fits exactly":                    {subject: strings.Repeat("a", 253-len(".audit-0")), segment: 0, want: strings.Repeat("a", 245) + ".audit-0"},
		"longest name":                    {subject: longest, segment: 100000},
		"longest name, cut before a dot":  {subject: strings.Repeat("a", 234) + ".b" + strings.Repeat("c", 17), segment: 7},
		"longest name, cut before a dash": {subject: strings.Repeat("a", 234) + "--" + strings.Repeat("c", 17), segment: 7},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := TrailName(tt.subject, tt.segment)
			if tt.want != "" && got != tt.want {
				t.Errorf("TrailName = %q, want %q", got, tt.want)
			}
			if problems := validation.IsDNS1123Subdomain(got); len(problems) > 0 {
				t.Errorf("TrailName = %q (%d chars): %v", got, len(got), problems)
			}
		})
	}
	// Long names that begin alike name different trails.
	if TrailName(longest, 0) == TrailName(longest[:252]+"b", 0) {
		t.Error("two long names share a trail name")
	}
}

// trailsOf cuts entries into AuditTrail segments, as the operator stores
// them.
func trailsOf(entries []securityv1alpha1.AuditEntry) []securityv1alpha1.AuditTrail {
	var trails []securityv1alpha1.AuditTrail
	for i := 0; i < len(entries); i += securityv1alpha1.AuditTrailSegmentSize {
		seg := Segment(int64(i))
		trails = append(trails, securityv1alpha1.AuditTrail{
			ObjectMeta: metav1.ObjectMeta{Name: TrailName(testSubject.Name, seg), Namespace: testNamespace},
			Spec: securityv1alpha1.AuditTrailSpec{
				Subject: testSubject, Segment: seg,
				Entries: entries[i:min(i+securityv1alpha1.AuditTrailSegmentSize, len(entries))],
			},
		})
	}
	return trails
}

func TestEntries(t *testing.T) {
	entries, head := longChain(600) // segments of 256, 256 and 88
	tests := map[string]struct {
		change func(trails []securityv1alpha1.AuditTrail) []securityv1alpha1.AuditTrail
		broken *BrokenError // nil: see err
		err    string       // "": no error
	}{
		"in order": {change: func(s []securityv1alpha1.AuditTrail) []securityv1alpha1.AuditTrail { return s }},
		"as listed": {change: func(s []securityv1alpha1.AuditTrail) []securityv1alpha1.AuditTrail {
			return []securityv1alpha1.AuditTrail{s[2], s[0], s[1]}
		}},
		"a segment missing": {
			change: func(s []securityv1alpha1.AuditTrail) []securityv1alpha1.AuditTrail {
				return []securityv1alpha1.AuditTrail{s[0], s[2]}
			},
			broken: &BrokenError{Sequence: 256, Reason: "segment 1, which holds entries 256 to 511, is not there"},
		},
		"the first segment missing": {
			change: func(s []securityv1alpha1.AuditTrail) []securityv1alpha1.AuditTrail { return s[1:] },
			broken: &BrokenError{Sequence: 0, Reason: "segment 0"},
		},
		"a segment short of entries before the last": {
			change: func(s []securityv1alpha1.AuditTrail) []securityv1alpha1.AuditTrail {
				s[1].Spec.Entries = s[1].Spec.Entries[:200]
				return s
			},
			broken: &BrokenError{Sequence: 456, Reason: "holds 200 entries, but a later segment follows it"},
		},
		"a segment twice": {
			change: func(s []securityv1alpha1.AuditTrail) []securityv1alpha1.AuditTrail { return append(s, s[1]) },
			err:    "both hold segment 1",
		},
		"a segment numbered below 0": {
			change: func(s []securityv1alpha1.AuditTrail) []securityv1alpha1.AuditTrail {
				s[0].Spec.Segment = -1
				return s
			},
			err: "segments are numbered from 0",
		},
		"a segment of another subject": {
			change: func(s []securityv1alpha1.AuditTrail) []securityv1alpha1.AuditTrail {
				s[2].Spec.Subject.UID = "0b6c1f3e-later-incident"
				return s
			},
			err: "records Incident laptop-stolen (uid 0b6c1f3e-later-incident), but laptop-stolen.audit-0 records",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Entries(tt.change(trailsOf(clone(entries))))
			switch {
			case tt.broken != nil:
				checkBroken(t, err, tt.broken)
			case tt.err != "":
				var b *BrokenError
				if err == nil || !strings.Contains(err.Error(), tt.err) || errors.As(err, &b) {
					t.Fatalf("error %v, want one (not a *BrokenError) containing %q", err, tt.err)
				}
			case err != nil:
				t.Fatal(err)
			default:
				if _, err := Verify(testNamespace, testSubject, got, VerifyOptions{Keys: testRing(t), Head: &head}); err != nil {
					t.Errorf("joined segments: %v", err)
				}
			}
		})
	}
	if got, err := Entries(nil); got != nil || err != nil {
		t.Errorf("Entries(nil) = %v, %v", got, err)
	}
}
