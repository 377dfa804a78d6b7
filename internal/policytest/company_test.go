package policytest

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/testenv"
)

// companySamples loads the small company's policies, assets and cases
// (config/samples/company), which are kept apart from the council's.
func companySamples(t *testing.T) (*Objects, []CaseFile) {
	t.Helper()
	objects, files, err := Load([]string{filepath.Join(testenv.RepoRoot(), "config", "samples", "company")})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 {
		t.Fatalf("want the company's one case file, loaded %d", len(files))
	}
	return objects, files
}

func companyPolicy(t *testing.T, objects *Objects, name string) *securityv1alpha1.EscalationPolicy {
	t.Helper()
	i := slices.IndexFunc(objects.Policies, func(p *securityv1alpha1.EscalationPolicy) bool { return p.Name == name })
	if i < 0 {
		t.Fatalf("no policy %s in config/samples/company", name)
	}
	return objects.Policies[i]
}

// The company's routing rules (STW 3.1, 3.2, 4.3, 5.2, 5.3) hold on its
// policies, each rule's policy routes at least one case, and the kept
// timeline is what a run gives.
func TestTheCompanysCasesPassOnItsPolicies(t *testing.T) {
	objects, files := companySamples(t)
	results := RunAll(t.Context(), objects, files)
	if err := CheckGolden(results, false); err != nil {
		t.Fatal(err)
	}
	if f := failures(results); len(f) > 0 {
		t.Errorf("the company's cases failed:\n%s", strings.Join(f, "\n"))
	}
	for _, policy := range []string{"walsall-mbc", "mis-help-desks", "lost-assets", "mis-business-critical", "security-breach"} {
		if !slices.ContainsFunc(results, func(r Result) bool { return r.Run != nil && slices.Contains(r.Run.Policies, policy) }) {
			t.Errorf("no case is routed to %s: its rule is not tested", policy)
		}
	}
}

// Each rule is enforced by the policies, not merely consistent with them:
// break the part of the policy set that implements it, and the case that
// encodes it fails, saying what went wrong.
func TestBreakingACompanyRuleFailsItsCase(t *testing.T) {
	for name, tc := range map[string]struct {
		breakRule  func(t *testing.T, objects *Objects)
		casePrefix string
		want       []string
	}{
		"STW 5.3: the breach policy below the loss policy, which stops": {
			breakRule: func(t *testing.T, objects *Objects) {
				companyPolicy(t, objects, "security-breach").Spec.Priority = 400
			},
			casePrefix: "a lost USB stick that is a breach of security",
			want: []string{
				"policies: want [security-breach, lost-assets], routed to [lost-assets]",
				"security-breach: would match, but not reached: lost-assets matched first and does not continue",
				"notified[0]: want senior-management-team of security-breach level 0",
			},
		},
		"STW 5.3: the Senior Management Team taken out of the breach policy": {
			breakRule: func(t *testing.T, objects *Objects) {
				spec := &companyPolicy(t, objects, "security-breach").Spec
				spec.Receivers = nil
				spec.Escalation.Levels[0].Notify = []securityv1alpha1.NotifyTarget{{Role: securityv1alpha1.RoleReporter}}
			},
			casePrefix: "a breach of security on the Walsall MBC network",
			want:       []string{"notified[0]: want senior-management-team of security-breach level 0"},
		},
		"STW 5.2: the business-critical policy below the ordinary MIS policy": {
			breakRule: func(t *testing.T, objects *Objects) {
				companyPolicy(t, objects, "mis-business-critical").Spec.Priority = 150
			},
			casePrefix: "a business-critical MIS fault",
			want: []string{
				"policies: want [mis-business-critical], routed to [mis-help-desks]",
				"mis-business-critical: would match, but not reached: mis-help-desks matched first and does not continue",
				"sla.policy: want mis-business-critical, the target is mis-help-desks's",
			},
		},
		"STW 3.1: Walsall MBC reached only through the MI Manager": {
			breakRule: func(t *testing.T, objects *Objects) {
				for _, a := range objects.Assets {
					if a.Name == "walsall-mbc-network" {
						a.Spec.Supplier.ContactVia = securityv1alpha1.ContactNamedContact
						a.Spec.Supplier.NamedContact = &securityv1alpha1.Contact{Name: "Management Information Manager", Email: "mi-manager@stepstowork.example.org"}
					}
				}
			},
			casePrefix: "a network fault goes straight to the Walsall MBC service desk",
			want: []string{
				"notified[0]: want role Supplier <ict-servicedesk@walsall-mbc.example.org>",
				"notNotified[0]: want nobody told <mi-manager@stepstowork.example.org>, but role Supplier <mi-manager@stepstowork.example.org> of walsall-mbc",
			},
		},
		"STW 3.2: the loss policy letting routing continue to the supplier": {
			breakRule: func(t *testing.T, objects *Objects) {
				companyPolicy(t, objects, "lost-assets").Spec.Continue = true
			},
			casePrefix: "a stolen laptop goes to the MI Manager",
			want: []string{
				"policies: want [lost-assets], routed to [lost-assets, walsall-mbc]",
				"notNotified[0]: want nobody told of walsall-mbc",
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			objects, files := companySamples(t)
			tc.breakRule(t, objects)
			results := RunAll(t.Context(), objects, files)
			i := slices.IndexFunc(results, func(r Result) bool { return strings.HasPrefix(r.Case.Name, tc.casePrefix) })
			if i < 0 {
				t.Fatalf("no case starts %q", tc.casePrefix)
			}
			got := &results[i]
			if got.Err != nil {
				t.Fatalf("%s: %v", got.Case.Name, got.Err)
			}
			if got.Passed() {
				t.Fatalf("%s passed with the rule broken", got.Case.Name)
			}
			joined := strings.Join(got.Differences, "\n")
			for _, want := range tc.want {
				if !strings.Contains(joined, want) {
					t.Errorf("the difference does not say %q:\n%s", want, joined)
				}
			}
		})
	}
}
