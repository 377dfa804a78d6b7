package obligation

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// config/regimes holds the regimes the project ships, one RegulatoryRegime
// per file. These tests hold each stage to what its law says; the CRD's
// schema is checked on the real API server by the controllers' suite.

const catalogue = "../../config/regimes"

func readRegime(t *testing.T, file string) *securityv1alpha1.RegulatoryRegimeSpec {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(catalogue, file))
	if err != nil {
		t.Fatal(err)
	}
	var regime securityv1alpha1.RegulatoryRegime
	if err := yaml.UnmarshalStrict(data, &regime); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if want := strings.TrimSuffix(file, ".yaml"); regime.Name != want || regime.Kind != "RegulatoryRegime" {
		t.Fatalf("%s holds %s %q, want RegulatoryRegime %q", file, regime.Kind, regime.Name, want)
	}
	return &regime.Spec
}

func TestCatalogueIsValid(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(catalogue, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, file := range files {
		if filepath.Base(file) != "kustomization.yaml" {
			names = append(names, filepath.Base(file))
		}
	}
	if want := []string{"csr-bill.yaml", "dora.yaml", "nis2.yaml", "pecr.yaml", "uk-gdpr.yaml"}; !slices.Equal(names, want) {
		t.Errorf("catalogue holds %v, want %v", names, want)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			if err := checkRegime(readRegime(t, name)); err != nil {
				t.Error(err)
			}
		})
	}
}

var (
	stageName   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	contentName = regexp.MustCompile(`^[a-z][A-Za-z0-9]*$`)
	recipients  = []securityv1alpha1.Recipient{
		securityv1alpha1.RecipientSupervisoryAuthority, securityv1alpha1.RecipientCompetentAuthority,
		securityv1alpha1.RecipientCSIRT, securityv1alpha1.RecipientDataSubjects, securityv1alpha1.RecipientController,
	}
	openers = []securityv1alpha1.StageOpener{
		securityv1alpha1.OpenedAlways, securityv1alpha1.OpenedByRisk, securityv1alpha1.OpenedByHighRisk,
		securityv1alpha1.OpenedBySignificant, securityv1alpha1.OpenedByMajor, securityv1alpha1.OpenedByIncomplete,
	}
)

// checkRegime applies the rules the regime's schema states in its markers:
// the catalogue kind's CRD will enforce them on every regime applied.
func checkRegime(regime *securityv1alpha1.RegulatoryRegimeSpec) error {
	var errs []error
	if regime.Description == "" || regime.Citation == "" {
		errs = append(errs, errors.New("description and citation are required"))
	}
	if len(regime.Stages) == 0 {
		errs = append(errs, errors.New("a regime has at least one stage"))
	}
	var earlier []string
	for _, s := range regime.Stages {
		fail := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("stage %q: %s", s.Name, fmt.Sprintf(format, args...)))
		}
		if !stageName.MatchString(s.Name) || slices.Contains(earlier, s.Name) {
			fail("the name must be a unique lower-case label")
		}
		if strings.TrimSpace(s.Citation) == "" {
			fail("cites no article")
		}
		if !slices.Contains(recipients, s.Recipient) {
			fail("recipient %q is not one the API knows", s.Recipient)
		}
		if !slices.Contains(openers, s.OpenedBy) {
			fail("openedBy %q is not one the API knows", s.OpenedBy)
		}
		kinds := 0
		for _, set := range []bool{s.Deadline != nil, s.DeadlineMonths != 0, s.WithoutUndueDelay} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			fail("needs exactly one of deadline, deadlineMonths and withoutUndueDelay")
		}
		if s.DeadlineMonths < 0 || s.DeadlineMonths > 12 {
			fail("deadlineMonths is 1 to 12")
		}
		for _, d := range []*securityv1alpha1.Duration{s.Deadline, s.MaxFromAwareness} {
			if err := d.Err(); err != nil {
				fail("%v", err)
			}
		}
		if s.MaxFromAwareness != nil && (s.ClockStart() != securityv1alpha1.ClockFromClassification || s.Deadline == nil) {
			fail("maxFromAwareness needs anchor.from Classification and a deadline")
		}
		if a := s.Anchor; a != nil && (a.From == securityv1alpha1.ClockFromFiling) != (a.Stage != "") {
			fail("anchor.stage is required when from is Filing, and only then")
		}
		if a := s.AnchorStage(); a != "" && !slices.Contains(earlier, a) {
			fail("its clock runs from the filing of %q, which is not listed before it", a)
		}
		for i, c := range s.RequiredContent {
			if !contentName.MatchString(c) || slices.Contains(s.RequiredContent[:i], c) {
				fail("required content %q must be a unique lowerCamel field name", c)
			}
		}
		if s.Agreements < 0 || s.Agreements > 5 {
			fail("agreements is 1 to 5")
		}
		earlier = append(earlier, s.Name)
	}
	return errors.Join(errs...)
}

// The checks must catch what they are there for.
func TestCheckRegimeRefusesBrokenStages(t *testing.T) {
	ok := securityv1alpha1.RegimeStage{
		Name: "notification", Citation: "Art. 1", Recipient: securityv1alpha1.RecipientCSIRT,
		Deadline: hours(24), OpenedBy: securityv1alpha1.OpenedBySignificant,
	}
	cases := map[string]struct {
		change func(*securityv1alpha1.RegimeStage)
		want   string
	}{
		"both a deadline and without undue delay": {
			change: func(s *securityv1alpha1.RegimeStage) { s.WithoutUndueDelay = true },
			want:   "exactly one of deadline",
		},
		"no deadline of any kind": {
			change: func(s *securityv1alpha1.RegimeStage) { s.Deadline = nil },
			want:   "exactly one of deadline",
		},
		"anchored on a filing of a stage not listed before": {
			change: func(s *securityv1alpha1.RegimeStage) { s.Anchor = afterFiling("final-report") },
			want:   `"final-report", which is not listed before it`,
		},
		"anchored on its own filing": {
			change: func(s *securityv1alpha1.RegimeStage) { s.Anchor = afterFiling("notification") },
			want:   "which is not listed before it",
		},
		"a cap from awareness on a clock from awareness": {
			change: func(s *securityv1alpha1.RegimeStage) { s.MaxFromAwareness = hours(24) },
			want:   "maxFromAwareness needs anchor.from Classification",
		},
		"no citation": {
			change: func(s *securityv1alpha1.RegimeStage) { s.Citation = " " },
			want:   "cites no article",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			stage := ok
			tc.change(&stage)
			err := checkRegime(&securityv1alpha1.RegulatoryRegimeSpec{Description: "d", Citation: "c", Stages: []securityv1alpha1.RegimeStage{stage}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// Each shipped regime says what its law says: the deadlines below are the
// articles' own, worked out by Evaluate from the catalogue's data.
func TestCatalogueDeadlines(t *testing.T) {
	month := func(from time.Duration) *time.Time { return new(addMonths(aware.Add(from), 1)) }
	cases := map[string]struct {
		facts Facts
		want  map[string]*time.Time // every stage's deadline; nil for none
	}{
		"uk-gdpr.yaml": {
			facts: Facts{AwareAt: aware, Stages: map[string]StageFacts{
				"notification":  {Decision: DecisionRequired},
				"data-subjects": {Decision: DecisionRequired},
			}},
			want: map[string]*time.Time{"notification": at(72 * time.Hour), "further-information": nil, "data-subjects": nil},
		},
		"pecr.yaml": {
			facts: Facts{AwareAt: aware, Stages: map[string]StageFacts{
				"notification": {FiledAt: at(20 * time.Hour)},
			}},
			want: map[string]*time.Time{"notification": at(24 * time.Hour), "further-information": at(92 * time.Hour), "subscribers": nil},
		},
		"nis2.yaml": {
			facts: Facts{AwareAt: aware, Stages: map[string]StageFacts{
				"early-warning": {Decision: DecisionRequired},
				"notification":  {FiledAt: at(60 * time.Hour)},
			}},
			want: map[string]*time.Time{"early-warning": at(24 * time.Hour), "notification": at(72 * time.Hour), "final-report": month(60 * time.Hour)},
		},
		"dora.yaml": {
			facts: Facts{AwareAt: aware, ClassifiedAt: at(22 * time.Hour), Stages: map[string]StageFacts{
				"initial-notification": {Decision: DecisionRequired, FiledAt: at(23 * time.Hour)},
				"intermediate-report":  {FiledAt: at(90 * time.Hour)},
			}},
			want: map[string]*time.Time{"initial-notification": at(24 * time.Hour), "intermediate-report": at(95 * time.Hour), "final-report": month(90 * time.Hour)},
		},
		"csr-bill.yaml": {
			facts: Facts{AwareAt: aware, Stages: map[string]StageFacts{
				"initial-notification": {Decision: DecisionRequired},
			}},
			want: map[string]*time.Time{
				"initial-notification": at(24 * time.Hour), "initial-notification-ncsc": at(24 * time.Hour),
				"full-report": at(72 * time.Hour), "full-report-ncsc": at(72 * time.Hour),
			},
		},
	}
	for file, tc := range cases {
		t.Run(file, func(t *testing.T) {
			obligations := Evaluate(readRegime(t, file), tc.facts, aware)
			if len(obligations) != len(tc.want) {
				t.Errorf("%d stages, want %d", len(obligations), len(tc.want))
			}
			for _, o := range obligations {
				want, ok := tc.want[o.Stage]
				if !ok {
					t.Errorf("unexpected stage %q", o.Stage)
					continue
				}
				if !sameTime(o.Deadline, want) {
					t.Errorf("%s: deadline %v, want %v", o.Stage, o.Deadline, want)
				}
				if o.State == StateToDecide && o.Stage != "further-information" && o.Stage != "subscribers" {
					t.Errorf("%s: still to decide, want it opened by the decision recorded for its regime", o.Stage)
				}
			}
		})
	}
}
