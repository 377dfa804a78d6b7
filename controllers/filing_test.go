package controllers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	rbacv1 "k8s.io/api/rbac/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/controllers"
	"github.com/incidentops/incident-operator/internal/lifecycle"
	"github.com/incidentops/incident-operator/internal/sink"
	"github.com/incidentops/incident-operator/internal/testenv"
)

// shippedRegime installs the regime config/regimes ships in file under a
// name of the test's own, since regimes are cluster-scoped and tests run
// side by side, and returns that name.
func shippedRegime(t *testing.T, ns, file string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "regimes", file))
	if err != nil {
		t.Fatal(err)
	}
	var regime securityv1alpha1.RegulatoryRegime
	if err := yaml.UnmarshalStrict(data, &regime); err != nil {
		t.Fatal(err)
	}
	regime.Name = strings.TrimSuffix(file, ".yaml") + "-" + ns[max(0, len(ns)-12):]
	create(t, &regime)
	t.Cleanup(func() { _ = k8sClient.Delete(t.Context(), &regime) })
	return regime.Name
}

// regimePolicy is a policy of ns that matches every incident, tells a
// webhook, and names the regimes.
func regimePolicy(t *testing.T, ns string, regimes ...string) {
	t.Helper()
	sink := newSink(t)
	webhookSecret(t, ns, "hook", sink.URL)
	policy := webhookPolicy(ns, "dpo", 0, "hook", securityv1alpha1.PolicyMatch{})
	policy.Spec.Regimes = regimes
	create(t, policy)
}

func getFiling(t *testing.T, ns, incident, regime, stage string) *securityv1alpha1.Filing {
	t.Helper()
	filing := &securityv1alpha1.Filing{}
	name := securityv1alpha1.FilingName(incident, regime, stage)
	if err := k8sClient.Get(t.Context(), types.NamespacedName{Namespace: ns, Name: name}, filing); err != nil {
		t.Fatal(err)
	}
	return filing
}

// record makes one step on a Filing as the client's user; nil when the
// API server accepted it.
func record(t *testing.T, c client.Client, filing *securityv1alpha1.Filing, step func(*securityv1alpha1.FilingSpec)) error {
	t.Helper()
	// The operator writes the Filing's status after each step, so a step
	// made from an older read conflicts and is made again from a new one.
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var stored securityv1alpha1.Filing
		if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(filing), &stored); err != nil {
			t.Fatal(err)
		}
		changed := stored.DeepCopy()
		step(&changed.Spec)
		return c.Patch(t.Context(), changed, client.MergeFromWithOptions(&stored, client.MergeFromWithOptimisticLock{}))
	})
}

func agreement(note string) func(*securityv1alpha1.FilingSpec) {
	return func(s *securityv1alpha1.FilingSpec) {
		s.Agreements = append(s.Agreements, securityv1alpha1.FilingAgreement{Sequence: int32(len(s.Agreements)), Note: note})
	}
}

func refusedWith(t *testing.T, what string, err error, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s was accepted", what)
	}
	if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) {
		t.Fatalf("%s: %v, want a refusal", what, err)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s was refused with %q, which does not say %q", what, err, w)
		}
	}
}

func waitForObligation(t *testing.T, ns, name, regime, stage string, state securityv1alpha1.ObligationState) (*securityv1alpha1.Incident, securityv1alpha1.ObligationStatus) {
	t.Helper()
	var inc *securityv1alpha1.Incident
	var found securityv1alpha1.ObligationStatus
	eventually(t, 20*time.Second, func() error {
		inc = getIncident(t, ns, name)
		for _, o := range inc.Status.Obligations {
			if o.Regime == regime && o.Stage == stage {
				found = o
				if o.State == state {
					return nil
				}
				return fmt.Errorf("%s/%s is %s (%s), want %s", regime, stage, o.State, o.Missing, state)
			}
		}
		return fmt.Errorf("no obligation %s/%s in %+v", regime, stage, inc.Status.Obligations)
	})
	return inc, found
}

// holdingAll is a client acting as user, bound in ns to each of the
// shipped ClusterRoles.
func holdingAll(t *testing.T, ns, user string, clusterRoles ...string) client.Client {
	t.Helper()
	for _, role := range clusterRoles {
		create(t, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: user + "-" + role},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
		})
	}
	return impersonating(t, user)
}

// breachContent is what UK GDPR Art. 33(3) asks a notification to carry.
var breachContent = map[string]securityv1alpha1.ContentValue{
	"nature":                "A letter about a child's care plan was posted to the wrong address.",
	"dataSubjectCategories": "A child in care and their parents",
	"dataSubjectCount":      "3",
	"recordCategories":      "Social care case notes",
	"recordCount":           "1",
	"contact":               "Data Protection Officer, dpo@council.example",
	"consequences":          "Disclosure of special category data to a neighbour.",
	"measures":              "The letter was retrieved unopened; the address was corrected.",
}

// A social-care letter sent to the wrong person, as the council's policy
// runs it (SH 5): the DPO drafts the report to the ICO, the Assistant Chief
// Executive (Finance) agrees to it, and only then is it filed, at 70 hours;
// the decision on telling the data subjects is recorded too. The API server
// refuses every shortcut, whatever client makes it, and the trail says who
// did each step.
func TestFilingIsDraftedAndAgreedByTwoPeople(t *testing.T) {
	ns := newNamespace(t)
	regime := shippedRegime(t, ns, "uk-gdpr.yaml")
	regimePolicy(t, ns, regime)
	// The DPO may also agree to filings others draft: only the rule that a
	// drafter never agrees to their own draft stops them here.
	dpo := holdingAll(t, ns, "dpo", "incident-responder", "incident-filing-approver")
	ace := holdingAll(t, ns, "ace-finance", "incident-filing-approver")
	rita := holdingAll(t, ns, "rita", "incident-responder")

	incident := newIncident(ns, "letter", securityv1alpha1.CategoryUnauthorisedDisclosure, securityv1alpha1.SeverityHigh)
	incident.Spec.Impact = securityv1alpha1.Impact{PersonalData: true, SocialCare: true, SpecialCategoryData: true}
	incident.Spec.AwareAt = &metav1.Time{Time: time.Now().Add(-70 * time.Hour).Truncate(time.Second)}
	create(t, incident)
	inc, notification := waitForObligation(t, ns, "letter", regime, "notification", securityv1alpha1.ObligationToDecide)
	if want := incident.Spec.AwareAt.Add(72 * time.Hour); notification.Deadline == nil || !notification.Deadline.Time.Equal(want) {
		t.Errorf("the notification is due %v, want 72h after awareness, %v", notification.Deadline, want)
	}
	if len(inc.Status.Obligations) != 3 || inc.Status.NextObligation != regime+"/notification" {
		t.Errorf("obligations %+v, next %q: want notification, further-information and data-subjects, notification next", inc.Status.Obligations, inc.Status.NextObligation)
	}
	waitForCondition(t, inc, func() []metav1.Condition { return getIncident(t, ns, "letter").Status.Conditions },
		securityv1alpha1.ConditionRegulatoryObligations, metav1.ConditionTrue, securityv1alpha1.ReasonUndecided)

	// Nobody resolves it while the decision is open.
	resolved := inc.DeepCopy()
	resolved.Spec.Resolution = &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionResolved, By: "Rita"}
	refusedWith(t, "resolving with undecided obligations", rita.Patch(t.Context(), resolved, client.MergeFrom(inc)),
		"spec.resolution", regime+"/notification")
	// Nor records the old single-person authority report.
	told := inc.DeepCopy()
	told.Spec.AuthorityNotification = &securityv1alpha1.AuthorityNotification{NotifiedAt: metav1.Now(), Reference: "ICO-1"}
	refusedWith(t, "a single-person authority report", rita.Patch(t.Context(), told, client.MergeFrom(inc)),
		"spec.authorityNotification", "kubectl incident draft")

	filing := getFiling(t, ns, "letter", regime, "notification")
	// People do not open Filings; the operator does.
	forged := &securityv1alpha1.Filing{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "forged"}, Spec: filing.Spec}
	refusedWith(t, "a Filing opened by a person", dpo.Create(t.Context(), forged))

	if err := record(t, dpo, filing, func(s *securityv1alpha1.FilingSpec) {
		s.Draft = &securityv1alpha1.FilingDraft{Content: breachContent, DraftedBy: &securityv1alpha1.Attestation{Username: "ace-finance"}}
	}); err != nil {
		t.Fatal(err)
	}
	if by := getFiling(t, ns, "letter", regime, "notification").Spec.Draft.DraftedBy; by == nil || by.Username != "dpo" {
		t.Fatalf("draftedBy %+v, want dpo, who drafted it", by)
	}
	waitForObligation(t, ns, "letter", regime, "notification", securityv1alpha1.ObligationDrafted)

	filed := func(s *securityv1alpha1.FilingSpec) {
		s.Filed = &securityv1alpha1.FilingSubmission{At: metav1.Now(), Reference: "ICO-2026-0042"}
	}
	refusedWith(t, "filing before agreement", record(t, dpo, filing, filed), "spec.filed", "1 agreement")
	refusedWith(t, "the drafter agreeing", record(t, dpo, filing, agreement("fine by me")), "spec.agreements", "dpo drafted", "may not agree")
	refusedWith(t, "agreement without the verb", record(t, rita, filing, agreement("looks right")), "spec.agreements", "verb agree on filings")
	refusedWith(t, "changing the draft", record(t, dpo, filing, func(s *securityv1alpha1.FilingSpec) {
		s.Draft.Content["measures"] = "none"
	}), "draft cannot be changed")

	if err := record(t, ace, filing, agreement("Agreed for the ACE (Finance)")); err != nil {
		t.Fatal(err)
	}
	refusedWith(t, "agreeing twice", record(t, ace, filing, agreement("again")), "already agreed")
	waitForObligation(t, ns, "letter", regime, "notification", securityv1alpha1.ObligationAgreed)
	if err := record(t, dpo, filing, filed); err != nil {
		t.Fatal(err)
	}
	refusedWith(t, "changing the filing", record(t, dpo, filing, func(s *securityv1alpha1.FilingSpec) {
		s.Filed.Reference = "ICO-other"
	}), "filing cannot be changed")
	_, notification = waitForObligation(t, ns, "letter", regime, "notification", securityv1alpha1.ObligationFiled)
	if !notification.Frozen || notification.Missed {
		t.Errorf("filed at 70h: frozen %v, missed %v; want frozen and in time", notification.Frozen, notification.Missed)
	}
	waitForCondition(t, inc, func() []metav1.Condition { return getIncident(t, ns, "letter").Status.Conditions },
		securityv1alpha1.ConditionAuthorityNotified, metav1.ConditionTrue, securityv1alpha1.ReasonReported)

	// Art. 34: the letter was retrieved unopened, so the risk to the people
	// is no longer likely; the decision needs the same second person.
	subjects := getFiling(t, ns, "letter", regime, "data-subjects")
	if err := record(t, dpo, subjects, func(s *securityv1alpha1.FilingSpec) {
		s.Decision = &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingNotRequired,
			Exemption: securityv1alpha1.ExemptionRiskNoLongerLikely, Rationale: "Retrieved unopened the next morning."}
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		_, pending := waitForObligation(t, ns, "letter", regime, "data-subjects", securityv1alpha1.ObligationToDecide)
		if !strings.Contains(pending.Missing, "not required needs 1 more agreement") {
			return fmt.Errorf("a decision awaiting agreement says %q", pending.Missing)
		}
		return nil
	})
	refusedWith(t, "the decider agreeing", record(t, dpo, subjects, agreement("ok")), "dpo decided", "may not agree")
	if err := record(t, ace, subjects, agreement("Agreed")); err != nil {
		t.Fatal(err)
	}
	waitForObligation(t, ns, "letter", regime, "data-subjects", securityv1alpha1.ObligationNotRequired)
	further := getFiling(t, ns, "letter", regime, "further-information")
	if err := record(t, dpo, further, func(s *securityv1alpha1.FilingSpec) {
		s.Decision = &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingNotRequired, Rationale: "The notification was complete."}
	}); err != nil {
		t.Fatal(err)
	}
	if err := record(t, ace, further, agreement("")); err != nil {
		t.Fatal(err)
	}
	inc, _ = waitForObligation(t, ns, "letter", regime, "further-information", securityv1alpha1.ObligationNotRequired)
	resolved = inc.DeepCopy()
	resolved.Spec.Resolution = &securityv1alpha1.Resolution{State: securityv1alpha1.ResolutionResolved, By: "Rita"}
	if err := rita.Patch(t.Context(), resolved, client.MergeFrom(inc)); err != nil {
		t.Fatalf("resolving once every obligation is decided: %v", err)
	}

	waitForTrail(t, ns, "letter",
		"ObligationOpened by operator", "FilingDrafted by dpo", "FilingAgreed by ace-finance", "Filed by dpo",
		"FilingDecided by dpo", "FilingAgreed by ace-finance")
}

// An encrypted council laptop left on a train: a breach that UK GDPR
// Art. 33(1) does not require reporting. The DPO decides so with reasons,
// a second person agrees, and the incident never shows a missed deadline,
// however long after 72 hours it is looked at.
func TestBreachDecidedNotRequiredNeverMissesItsDeadline(t *testing.T) {
	ns := newNamespace(t)
	regime := shippedRegime(t, ns, "uk-gdpr.yaml")
	regimePolicy(t, ns, regime)
	dpo := holdingAll(t, ns, "dpo", "incident-responder")
	ace := holdingAll(t, ns, "ace-finance", "incident-filing-approver")

	incident := newIncident(ns, "laptop", securityv1alpha1.CategoryLoss, securityv1alpha1.SeverityMedium)
	incident.Spec.Impact = securityv1alpha1.Impact{PersonalData: true}
	incident.Spec.AwareAt = &metav1.Time{Time: time.Now().Add(-2 * time.Hour).Truncate(time.Second)}
	create(t, incident)
	waitForObligation(t, ns, "laptop", regime, "notification", securityv1alpha1.ObligationToDecide)
	for _, stage := range []string{"notification", "data-subjects"} {
		filing := getFiling(t, ns, "laptop", regime, stage)
		decision := &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingNotRequired,
			Rationale: "The laptop's disk is encrypted (BitLocker, recovery key held centrally); the data is unintelligible to a finder."}
		if stage == "data-subjects" {
			decision.Exemption = securityv1alpha1.ExemptionUnintelligible
		}
		if err := record(t, dpo, filing, func(s *securityv1alpha1.FilingSpec) { s.Decision = decision }); err != nil {
			t.Fatal(err)
		}
		if err := record(t, ace, filing, agreement("Agreed")); err != nil {
			t.Fatal(err)
		}
	}
	inc, _ := waitForObligation(t, ns, "laptop", regime, "notification", securityv1alpha1.ObligationNotRequired)
	waitForCondition(t, inc, func() []metav1.Condition { return getIncident(t, ns, "laptop").Status.Conditions },
		securityv1alpha1.ConditionAuthorityNotificationRequired, metav1.ConditionFalse, securityv1alpha1.ReasonNotRequired)

	// Four days on, nothing is missed.
	// Other tests' incidents are reported at the machine's time: the clock
	// goes back when this test ends.
	operatorClock.advance(96 * time.Hour)
	t.Cleanup(func() { operatorClock.advance(-96 * time.Hour) })
	nudge(t, inc)
	eventually(t, 20*time.Second, func() error {
		inc = getIncident(t, ns, "laptop")
		if c := findCondition(inc.Status.Conditions, securityv1alpha1.ConditionAuthorityDeadlineMissed); c == nil || c.Status != metav1.ConditionFalse {
			return fmt.Errorf("AuthorityDeadlineMissed %+v, want False", c)
		}
		if c := findCondition(inc.Status.Conditions, securityv1alpha1.ConditionObligationMissed); c == nil || c.Status != metav1.ConditionFalse {
			return fmt.Errorf("ObligationMissed %+v, want False", c)
		}
		return nil
	})
	for _, o := range inc.Status.Obligations {
		if o.Missed {
			t.Errorf("%s/%s missed", o.Regime, o.Stage)
		}
	}
	// The trail says who decided and agreed, and that the operator closed
	// the further information, which follows a notification never made.
	waitForTrail(t, ns, "laptop", "FilingDecided by dpo", "FilingAgreed by ace-finance", "ObligationClosed by operator")
}

// A filing after its stage's deadline must give the reasons for the delay
// (UK GDPR Art. 33(1)): the operator copies the obligation's deadline onto
// the Filing, and the API server refuses a late filing without reasons,
// whoever records it.
func TestLateFilingMustGiveItsReasons(t *testing.T) {
	ns := newNamespace(t)
	regime := shippedRegime(t, ns, "uk-gdpr.yaml")
	regimePolicy(t, ns, regime)
	dpo := holdingAll(t, ns, "dpo", "incident-responder")
	ace := holdingAll(t, ns, "ace-finance", "incident-filing-approver")

	incident := newIncident(ns, "late-letter", securityv1alpha1.CategoryUnauthorisedDisclosure, securityv1alpha1.SeverityHigh)
	incident.Spec.Impact = securityv1alpha1.Impact{PersonalData: true}
	aware := time.Now().Add(-80 * time.Hour).Truncate(time.Second)
	incident.Spec.AwareAt = &metav1.Time{Time: aware}
	create(t, incident)
	_, obligation := waitForObligation(t, ns, "late-letter", regime, "notification", securityv1alpha1.ObligationToDecide)
	filing := getFiling(t, ns, "late-letter", regime, "notification")
	eventually(t, 20*time.Second, func() error {
		if err := k8sClient.Get(t.Context(), client.ObjectKeyFromObject(filing), filing); err != nil {
			return err
		}
		if d := filing.Status.Deadline; d == nil || !d.Equal(obligation.Deadline) {
			return fmt.Errorf("status.deadline %v, want the obligation's %v", d, obligation.Deadline)
		}
		return nil
	})

	if err := record(t, dpo, filing, func(s *securityv1alpha1.FilingSpec) { s.Draft = &securityv1alpha1.FilingDraft{Content: breachContent} }); err != nil {
		t.Fatal(err)
	}
	if err := record(t, ace, filing, agreement("Agreed")); err != nil {
		t.Fatal(err)
	}
	at := metav1.NewTime(time.Now().Add(-time.Minute).Truncate(time.Second))
	refusedWith(t, "a late filing without reasons", record(t, dpo, filing, func(s *securityv1alpha1.FilingSpec) {
		s.Filed = &securityv1alpha1.FilingSubmission{At: at, Reference: "ICO-7"}
	}), "spec.filed.delayReason is required", "status.deadline")
	if err := record(t, dpo, filing, func(s *securityv1alpha1.FilingSpec) {
		s.Filed = &securityv1alpha1.FilingSubmission{At: at, Reference: "ICO-7", DelayReason: "The recipient told us only on day four."}
	}); err != nil {
		t.Fatalf("a late filing with its reasons: %v", err)
	}
	if _, o := waitForObligation(t, ns, "late-letter", regime, "notification", securityv1alpha1.ObligationFiled); !o.Missed {
		t.Errorf("the notification filed %s after awareness is not marked missed: %+v", at.Sub(aware), o)
	}
}

// Every rule that keeps a Filing's steps as they were made refuses the
// change that breaks it, with its message. The validation sweep counts on
// this test for the rules it cannot reach from a Filing it stores
// (test/validation rulesDrivenElsewhere).
func TestFilingRulesRefuseEachBrokenStep(t *testing.T) {
	ns := newNamespace(t)
	dpo := holdingAll(t, ns, "dpo", "incident-responder")
	ace := holdingAll(t, ns, "ace-finance", "incident-filing-approver")
	at := metav1.NewTime(time.Now().Add(-time.Hour).Truncate(time.Second))
	decide := func(outcome securityv1alpha1.FilingOutcome) func(*securityv1alpha1.FilingSpec) {
		return func(s *securityv1alpha1.FilingSpec) {
			s.Decision = &securityv1alpha1.FilingDecision{Outcome: outcome, Rationale: "Reasons."}
		}
	}
	draft := func(s *securityv1alpha1.FilingSpec) {
		s.Draft = &securityv1alpha1.FilingDraft{Content: map[string]securityv1alpha1.ContentValue{"nature": "A letter to the wrong address."}}
	}
	file := func(s *securityv1alpha1.FilingSpec) {
		s.Filed = &securityv1alpha1.FilingSubmission{At: at, Reference: "ICO-1"}
	}
	acknowledge := func(s *securityv1alpha1.FilingSpec) {
		s.Acknowledgement = &securityv1alpha1.FilingAcknowledgement{At: at, CaseNumber: "C-1"}
	}
	letter := func(sequence int32) func(*securityv1alpha1.FilingSpec) {
		return func(s *securityv1alpha1.FilingSpec) {
			s.Correspondence = append(s.Correspondence, securityv1alpha1.Correspondence{Sequence: sequence, At: at,
				Direction: securityv1alpha1.CorrespondenceReceived, Summary: "The ICO asked for the retrieval date."})
		}
	}
	type step struct {
		by     client.Client
		change func(*securityv1alpha1.FilingSpec)
	}
	filed := []step{{dpo, draft}, {ace, agreement("Agreed")}, {dpo, file}}
	for name, tc := range map[string]struct {
		before []step
		change func(*securityv1alpha1.FilingSpec)
		rule   string
	}{
		"change the decision": {before: []step{{dpo, decide(securityv1alpha1.FilingRequired)}},
			change: func(s *securityv1alpha1.FilingSpec) { s.Decision.Outcome = securityv1alpha1.FilingNotRequired },
			rule:   "a decision cannot be changed or removed once made"},
		"not required without reasons": {change: func(s *securityv1alpha1.FilingSpec) {
			s.Decision = &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingNotRequired}
		}, rule: "a decision that a stage is not required must give its reasons in rationale (UK GDPR Art. 33(5))"},
		"an exemption for a required stage": {change: func(s *securityv1alpha1.FilingSpec) {
			s.Decision = &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingRequired, Exemption: securityv1alpha1.ExemptionUnintelligible}
		}, rule: "an exemption is a reason for not telling: it needs outcome NotRequired"},
		"an exemption for a stage that goes to the regulator": {change: func(s *securityv1alpha1.FilingSpec) {
			s.Decision = &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingNotRequired, Rationale: "Encrypted.",
				Exemption: securityv1alpha1.ExemptionUnintelligible}
		}, rule: "an exemption (UK GDPR Art. 34(3)) is a reason not to tell the data subjects: only a stage whose recipient is DataSubjects takes one"},
		"draft a stage not required": {before: []step{{dpo, decide(securityv1alpha1.FilingNotRequired)}}, change: draft,
			rule: "a stage decided not required has nothing to draft or file"},
		"change the draft": {before: []step{{dpo, draft}},
			change: func(s *securityv1alpha1.FilingSpec) { s.Draft.Content["nature"] = "Nothing happened." },
			rule:   "a draft cannot be changed or removed once made: what it lacks follows in a later stage"},
		"a content field named oddly": {change: func(s *securityv1alpha1.FilingSpec) {
			s.Draft = &securityv1alpha1.FilingDraft{Content: map[string]securityv1alpha1.ContentValue{"Data Subjects": "3"}}
		}, rule: "content fields are named like nature or dataSubjectCount: a lower-case letter, then letters and digits, at most 63"},
		"file without a draft": {change: file, rule: "a filing needs its draft first"},
		"change the filing": {before: filed, change: func(s *securityv1alpha1.FilingSpec) { s.Filed.Reference = "ICO-2" },
			rule: "a filing cannot be changed or removed once recorded"},
		"acknowledge without a filing": {change: acknowledge, rule: "an acknowledgement needs the filing first"},
		"change the acknowledgement": {before: append(slices.Clone(filed), step{dpo, acknowledge}),
			change: func(s *securityv1alpha1.FilingSpec) { s.Acknowledgement.CaseNumber = "C-2" },
			rule:   "an acknowledgement cannot be changed or removed once recorded"},
		"a letter before the filing":   {change: letter(0), rule: "correspondence follows the filing: record the filing first"},
		"a letter numbered with a gap": {before: filed, change: letter(5), rule: "correspondence is numbered from 0 without gaps"},
		"change a letter": {before: append(slices.Clone(filed), step{dpo, letter(0)}),
			change: func(s *securityv1alpha1.FilingSpec) { s.Correspondence[0].Summary = "Nothing." },
			rule:   "a letter cannot be changed once recorded"},
		"remove a letter": {before: append(slices.Clone(filed), step{dpo, letter(0)}),
			change: func(s *securityv1alpha1.FilingSpec) { s.Correspondence = nil },
			rule:   "correspondence is append-only: no letter can be removed"},
		"an agreement numbered with a gap": {before: []step{{dpo, draft}}, change: func(s *securityv1alpha1.FilingSpec) {
			s.Agreements = []securityv1alpha1.FilingAgreement{{Sequence: 3}}
		}, rule: "agreements are numbered from 0 without gaps"},
		"change an agreement": {before: []step{{dpo, draft}, {ace, agreement("Agreed")}},
			change: func(s *securityv1alpha1.FilingSpec) { s.Agreements[0].Note = "Not agreed." },
			rule:   "an agreement cannot be changed once recorded"},
		"remove an agreement": {before: []step{{dpo, draft}, {ace, agreement("Agreed")}},
			change: func(s *securityv1alpha1.FilingSpec) { s.Agreements = nil },
			rule:   "agreements are append-only: none can be removed"},
		"change the stage":      {change: func(s *securityv1alpha1.FilingSpec) { s.Stage = "other" }, rule: "is what the stage is: it cannot be changed"},
		"drop required content": {change: func(s *securityv1alpha1.FilingSpec) { s.RequiredContent = nil }, rule: "requiredContent is what the stage asks: it cannot be changed"},
	} {
		t.Run(name, func(t *testing.T) {
			filing := &securityv1alpha1.Filing{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "rule-"},
				Spec: securityv1alpha1.FilingSpec{Incident: "letter", Regime: "uk-gdpr", Stage: "notification", Citation: "UK GDPR Art. 33(1)",
					Recipient: securityv1alpha1.RecipientSupervisoryAuthority, RequiredContent: []string{"nature"}, AgreementsRequired: 1},
			}
			create(t, filing)
			for _, s := range tc.before {
				if err := record(t, s.by, filing, s.change); err != nil {
					t.Fatalf("preparing: %v", err)
				}
			}
			refusedWith(t, name, record(t, dpo, filing, tc.change), tc.rule)
		})
	}
}

// A regime that the operator could not compute deadlines from is refused
// when it is applied, with the rule it breaks.
func TestRegimeRulesRefuseEachBrokenStage(t *testing.T) {
	stage := func(change func(*securityv1alpha1.RegimeStage)) securityv1alpha1.RegimeStage {
		s := securityv1alpha1.RegimeStage{Name: "final", Citation: "Art. 1", Recipient: securityv1alpha1.RecipientCSIRT,
			DeadlineMonths: 1, OpenedBy: securityv1alpha1.OpenedBySignificant}
		change(&s)
		return s
	}
	first := stage(func(s *securityv1alpha1.RegimeStage) { s.Name = "first" })
	for name, tc := range map[string]struct {
		stages []securityv1alpha1.RegimeStage
		rule   string
	}{
		"anchored on a later stage": {stages: []securityv1alpha1.RegimeStage{
			stage(func(s *securityv1alpha1.RegimeStage) {
				s.Anchor = &securityv1alpha1.StageAnchor{From: securityv1alpha1.ClockFromFiling, Stage: "first"}
			}), first},
			rule: "a stage whose clock runs from a filing must name a stage listed before it"},
		"a deadline and without undue delay": {stages: []securityv1alpha1.RegimeStage{
			stage(func(s *securityv1alpha1.RegimeStage) { s.WithoutUndueDelay = true })},
			rule: "exactly one of deadline, deadlineMonths and withoutUndueDelay: a stage has a fixed time limit or none"},
		"a cap on a deadline from awareness": {stages: []securityv1alpha1.RegimeStage{
			stage(func(s *securityv1alpha1.RegimeStage) {
				s.MaxFromAwareness = &securityv1alpha1.Duration{Duration: 24 * time.Hour}
			})},
			rule: "maxFromAwareness caps a deadline counted from classification: it needs anchor.from Classification and a deadline"},
		"an anchor stage without a filing": {stages: []securityv1alpha1.RegimeStage{first,
			stage(func(s *securityv1alpha1.RegimeStage) {
				s.Anchor = &securityv1alpha1.StageAnchor{From: securityv1alpha1.ClockFromAwareness, Stage: "first"}
			})},
			rule: "stage is required when from is Filing, and only then"},
	} {
		t.Run(name, func(t *testing.T) {
			regime := &securityv1alpha1.RegulatoryRegime{ObjectMeta: metav1.ObjectMeta{GenerateName: "rule-"},
				Spec: securityv1alpha1.RegulatoryRegimeSpec{Description: "A regime", Citation: "A law", Stages: tc.stages}}
			refusedWith(t, name, k8sClient.Create(t.Context(), regime, client.DryRunAll), tc.rule)
		})
	}
}

// A step recorded with a time in the future, or before the step it
// follows, is accepted (clocks differ, and the API server has no clock of
// its own in a rule) but the Filing says so, naming the field.
func TestFilingTimesAreChecked(t *testing.T) {
	ns := newNamespace(t)
	dpo := holdingAll(t, ns, "dpo", "incident-responder")
	ace := holdingAll(t, ns, "ace-finance", "incident-filing-approver")
	create(t, newIncident(ns, "letter", securityv1alpha1.CategoryUnauthorisedDisclosure, securityv1alpha1.SeverityHigh))
	regime := shippedRegime(t, ns, "uk-gdpr.yaml")
	filing := &securityv1alpha1.Filing{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "letter.notification"},
		Spec: securityv1alpha1.FilingSpec{Incident: "letter", Regime: regime, Stage: "notification", Citation: "UK GDPR Art. 33(1)",
			Recipient: securityv1alpha1.RecipientSupervisoryAuthority, AgreementsRequired: 1,
			RequiredContent: []string{"nature", "dataSubjectCategories", "dataSubjectCount", "recordCategories", "recordCount", "contact", "consequences", "measures"}},
	}
	create(t, filing)
	waitForCondition(t, filing, filingConditions(filing), securityv1alpha1.ConditionReady, metav1.ConditionTrue, securityv1alpha1.ReasonSucceeded)
	for _, s := range []struct {
		by     client.Client
		change func(*securityv1alpha1.FilingSpec)
	}{
		{dpo, func(s *securityv1alpha1.FilingSpec) { s.Draft = &securityv1alpha1.FilingDraft{Content: breachContent} }},
		{ace, agreement("Agreed")},
		{dpo, func(s *securityv1alpha1.FilingSpec) {
			s.Filed = &securityv1alpha1.FilingSubmission{At: metav1.NewTime(time.Now().AddDate(5, 0, 0).Truncate(time.Second)), Reference: "ICO-1"}
		}},
	} {
		if err := record(t, s.by, filing, s.change); err != nil {
			t.Fatal(err)
		}
	}
	c := waitForCondition(t, filing, filingConditions(filing), securityv1alpha1.ConditionReady, metav1.ConditionFalse, controllers.ReasonTimesDisagree)
	if !strings.Contains(c.Message, "spec.filed.at") || !strings.Contains(c.Message, "in the future") {
		t.Errorf("Ready says %q; want it to name spec.filed.at, in the future", c.Message)
	}
}

func filingConditions(f *securityv1alpha1.Filing) func() []metav1.Condition {
	return func() []metav1.Condition {
		stored := &securityv1alpha1.Filing{}
		_ = k8sClient.Get(context.Background(), client.ObjectKeyFromObject(f), stored)
		return stored.Status.Conditions
	}
}

// A NIS2 significant incident runs its three stages: deciding the early
// warning required opens the notification and the final report too, and
// the final report's month counts from when the notification was filed.
func TestNIS2FinalReportCountsFromTheNotification(t *testing.T) {
	ns := newNamespace(t)
	regime := shippedRegime(t, ns, "nis2.yaml")
	regimePolicy(t, ns, regime)
	ciso := holdingAll(t, ns, "ciso", "incident-responder")
	ceo := holdingAll(t, ns, "ceo", "incident-filing-approver")

	incident := newIncident(ns, "outage", securityv1alpha1.CategorySystemMalfunction, securityv1alpha1.SeverityCritical)
	incident.Spec.AwareAt = &metav1.Time{Time: time.Now().Add(-20 * time.Hour).Truncate(time.Second)}
	create(t, incident)
	_, final := waitForObligation(t, ns, "outage", regime, "final-report", securityv1alpha1.ObligationWaiting)
	if final.Deadline != nil || !strings.Contains(final.Missing, `follows the filing of "notification"`) {
		t.Errorf("before the notification is filed, the final report is due %v: %q", final.Deadline, final.Missing)
	}
	if err := record(t, ciso, getFiling(t, ns, "outage", regime, "early-warning"), func(s *securityv1alpha1.FilingSpec) {
		s.Decision = &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingRequired, Rationale: "Significant: a day's outage of the payment service."}
	}); err != nil {
		t.Fatal(err)
	}
	waitForObligation(t, ns, "outage", regime, "final-report", securityv1alpha1.ObligationRequired)

	fileStage := func(stage string, content map[string]securityv1alpha1.ContentValue, at time.Time) {
		t.Helper()
		filing := getFiling(t, ns, "outage", regime, stage)
		for _, s := range []struct {
			by     client.Client
			change func(*securityv1alpha1.FilingSpec)
		}{
			{ciso, func(s *securityv1alpha1.FilingSpec) { s.Draft = &securityv1alpha1.FilingDraft{Content: content} }},
			{ceo, agreement("Agreed")},
			{ciso, func(s *securityv1alpha1.FilingSpec) {
				s.Filed = &securityv1alpha1.FilingSubmission{At: metav1.NewTime(at), Reference: "CSIRT-" + stage}
			}},
		} {
			if err := record(t, s.by, filing, s.change); err != nil {
				t.Fatalf("%s: %v", stage, err)
			}
		}
	}
	fileStage("early-warning", map[string]securityv1alpha1.ContentValue{"suspectedUnlawful": "Not suspected", "crossBorderImpact": "None"},
		incident.Spec.AwareAt.Add(22*time.Hour))
	notified := time.Now().Add(-time.Minute).Truncate(time.Second)
	fileStage("notification", map[string]securityv1alpha1.ContentValue{"severity": "High", "impact": "Payments down 20h", "indicatorsOfCompromise": "None"}, notified)
	eventually(t, 20*time.Second, func() error {
		_, final = waitForObligation(t, ns, "outage", regime, "final-report", securityv1alpha1.ObligationRequired)
		if want := notified.AddDate(0, 1, 0); final.Deadline == nil || !final.Deadline.Time.Equal(want) {
			return fmt.Errorf("the final report is due %v, want a month after the notification, %v", final.Deadline, want)
		}
		return nil
	})
	_, warning := waitForObligation(t, ns, "outage", regime, "early-warning", securityv1alpha1.ObligationFiled)
	if warning.Missed || !warning.Frozen {
		t.Errorf("the early warning filed at 22h: missed %v, frozen %v", warning.Missed, warning.Frozen)
	}
}

// DORA's initial notification is due 4 hours after the incident is
// classified as major, and never later than 24 hours after awareness:
// classifying it is deciding the first stage required, at the time given.
func TestDORAInitialNotificationRunsFromClassification(t *testing.T) {
	ns := newNamespace(t)
	regime := shippedRegime(t, ns, "dora.yaml")
	regimePolicy(t, ns, regime)
	cro := holdingAll(t, ns, "cro", "incident-responder")

	aware := time.Now().Add(-23 * time.Hour).Truncate(time.Second)
	incident := newIncident(ns, "ict", securityv1alpha1.CategorySystemMalfunction, securityv1alpha1.SeverityCritical)
	incident.Spec.AwareAt = &metav1.Time{Time: aware}
	create(t, incident)
	_, initial := waitForObligation(t, ns, "ict", regime, "initial-notification", securityv1alpha1.ObligationToDecide)
	if initial.Deadline != nil {
		t.Errorf("before classification the initial notification is due %v", initial.Deadline)
	}
	classified := aware.Add(22 * time.Hour)
	if err := record(t, cro, getFiling(t, ns, "ict", regime, "initial-notification"), func(s *securityv1alpha1.FilingSpec) {
		s.Decision = &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingRequired, At: &metav1.Time{Time: classified},
			Rationale: "Major: the criteria of Delegated Regulation (EU) 2024/1772 are met."}
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		_, initial = waitForObligation(t, ns, "ict", regime, "initial-notification", securityv1alpha1.ObligationRequired)
		// 4 hours after classification would be 26 hours after awareness.
		if want := aware.Add(24 * time.Hour); initial.Deadline == nil || !initial.Deadline.Time.Equal(want) {
			return fmt.Errorf("the initial notification is due %v, want 24h after awareness, %v", initial.Deadline, want)
		}
		return nil
	})
}

// An incident stored before regimes, with its report to the ICO recorded
// as spec.authorityNotification, keeps its meaning: its Art. 33
// notification shows as filed, in time, and nothing else is asked of it
// but the decisions that did not exist then.
func TestAuthorityNotificationOfTheOldShapeIsAFiling(t *testing.T) {
	ns := newNamespace(t)
	regime := shippedRegime(t, ns, "uk-gdpr.yaml")
	regimePolicy(t, ns, regime)
	aware := time.Now().Add(-50 * time.Hour).Truncate(time.Second)
	incident := newIncident(ns, "old", securityv1alpha1.CategoryUnauthorisedDisclosure, securityv1alpha1.SeverityHigh)
	incident.Spec.Impact = securityv1alpha1.Impact{PersonalData: true}
	incident.Spec.AwareAt = &metav1.Time{Time: aware}
	incident.Spec.AuthorityNotification = &securityv1alpha1.AuthorityNotification{NotifiedAt: metav1.NewTime(aware.Add(48 * time.Hour)), Reference: "ICO-OLD-1"}
	create(t, incident) // as an import: the administrator may
	_, notification := waitForObligation(t, ns, "old", regime, "notification", securityv1alpha1.ObligationFiled)
	if notification.Missed || notification.Deadline == nil || !notification.Deadline.Time.Equal(aware.Add(72*time.Hour)) {
		t.Errorf("the old report shows as %+v; want filed in time, due 72h after awareness", notification)
	}
	waitForCondition(t, incident, func() []metav1.Condition { return getIncident(t, ns, "old").Status.Conditions },
		securityv1alpha1.ConditionAuthorityNotified, metav1.ConditionTrue, securityv1alpha1.ReasonReported)
}

// The people a policy names in regulatory.notify are told, as every
// notification is told, when a draft awaits their agreement and when a
// stage not yet agreed falls due within warnBefore: each once, naming the
// obligation.
func TestRegulatoryNoticesReachThePolicysPeople(t *testing.T) {
	ns := newNamespace(t)
	regime := shippedRegime(t, ns, "uk-gdpr.yaml")
	hook := newSink(t)
	webhookSecret(t, ns, "hook", hook.URL)
	policy := webhookPolicy(ns, "dpo", 0, "hook", securityv1alpha1.PolicyMatch{})
	policy.Spec.Regimes = []string{regime}
	policy.Spec.Regulatory = &securityv1alpha1.Regulatory{
		Notify:     []securityv1alpha1.NotifyTarget{{Receiver: "hook"}},
		WarnBefore: &securityv1alpha1.Duration{Duration: 12 * time.Hour},
	}
	create(t, policy)
	dpo := holdingAll(t, ns, "dpo", "incident-responder")

	// 61 hours after awareness, the notification is due within 12 hours.
	incident := newIncident(ns, "letter", securityv1alpha1.CategoryUnauthorisedDisclosure, securityv1alpha1.SeverityHigh)
	incident.Spec.Impact = securityv1alpha1.Impact{PersonalData: true}
	incident.Spec.AwareAt = &metav1.Time{Time: operatorClock.Now().Add(-61 * time.Hour).Truncate(time.Second)}
	create(t, incident)
	notices := func(notice string) []sink.Delivery {
		var found []sink.Delivery
		for _, d := range hook.Deliveries() {
			if d.Message.Notice == notice && d.Message.Incident.Name == "letter" {
				found = append(found, d)
			}
		}
		return found
	}
	eventually(t, 20*time.Second, func() error {
		if due := notices(lifecycle.NoticeObligationDue); len(due) == 0 {
			return fmt.Errorf("no ObligationDue notice yet")
		}
		return nil
	})
	due := notices(lifecycle.NoticeObligationDue)
	if o := due[0].Message.Obligation; o == nil || o.Regime != regime || o.Stage != "notification" || o.Deadline == nil {
		t.Fatalf("the ObligationDue notice says %+v; want the notification with its deadline", o)
	}
	if len(notices(lifecycle.NoticeAwaitingAgreement)) != 0 {
		t.Fatal("an AwaitingAgreement notice before anything awaits agreement")
	}

	if err := record(t, dpo, getFiling(t, ns, "letter", regime, "notification"), func(s *securityv1alpha1.FilingSpec) {
		s.Draft = &securityv1alpha1.FilingDraft{Content: breachContent}
	}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		if len(notices(lifecycle.NoticeAwaitingAgreement)) == 0 {
			return fmt.Errorf("no AwaitingAgreement notice yet")
		}
		return nil
	})
	awaiting := notices(lifecycle.NoticeAwaitingAgreement)[0].Message.Obligation
	if awaiting == nil || awaiting.Stage != "notification" || awaiting.State != securityv1alpha1.ObligationDrafted {
		t.Errorf("the AwaitingAgreement notice says %+v; want the drafted notification", awaiting)
	}
	// Later reconciles owe nothing again.
	nudge(t, getIncident(t, ns, "letter"))
	time.Sleep(time.Second)
	if n, m := len(notices(lifecycle.NoticeObligationDue)), len(notices(lifecycle.NoticeAwaitingAgreement)); n != 1 || m != 1 {
		t.Errorf("ObligationDue told %d times, AwaitingAgreement %d times; want once each", n, m)
	}
}

// A protected cluster policy that names a regime binds it for every
// namespace it selects, whatever the namespace's own policies say: an
// incident routed first by a namespace policy that stops evaluation, and
// names no regime, still carries the regime's obligations.
func TestProtectedClusterPolicyBindsItsRegime(t *testing.T) {
	scope, _, secret := councilReceiver(t)
	ns := scopedNamespace(t, scope)
	regime := shippedRegime(t, ns, "nis2.yaml")
	policy := clusterWebhookPolicy("council-regulator-"+scope, -100, scope, secret, true)
	policy.Spec.Regimes = []string{regime}
	create(t, policy)
	deleteAtEnd(t, policy)

	hook := newSink(t)
	webhookSecret(t, ns, "hook", hook.URL)
	own := webhookPolicy(ns, "own-desk", 500, "hook", securityv1alpha1.PolicyMatch{})
	own.Spec.Continue = false
	create(t, own)

	create(t, newIncident(ns, "outage", securityv1alpha1.CategorySystemMalfunction, securityv1alpha1.SeverityCritical))
	inc, _ := waitForObligation(t, ns, "outage", regime, "early-warning", securityv1alpha1.ObligationToDecide)
	if !slices.ContainsFunc(inc.Status.Policies, func(p securityv1alpha1.PolicyReference) bool { return p.Name == policy.Name }) {
		t.Errorf("routed to %+v; want the protected cluster policy among them", inc.Status.Policies)
	}
}

// defaultRegime is the regime the test operator applies by default
// (--default-regimes); it exists only while a test installs it.
const defaultRegime = "suite-default-regime"

// The operator's default regime applies to every personal data breach,
// routed or not, and to nothing else: the law's clock runs whether or not
// a policy matched.
func TestDefaultRegimeAppliesToEveryBreach(t *testing.T) {
	ns := newNamespace(t)
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "regimes", "uk-gdpr.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var regime securityv1alpha1.RegulatoryRegime
	if err := yaml.UnmarshalStrict(data, &regime); err != nil {
		t.Fatal(err)
	}
	regime.Name = defaultRegime
	create(t, &regime)
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), &regime) })

	breach := newIncident(ns, "unrouted-breach", securityv1alpha1.CategoryUnauthorisedDisclosure, securityv1alpha1.SeverityHigh)
	breach.Spec.Impact = securityv1alpha1.Impact{PersonalData: true}
	create(t, breach)
	create(t, newIncident(ns, "no-personal-data", securityv1alpha1.CategoryMalware, securityv1alpha1.SeverityLow))
	inc, notification := waitForObligation(t, ns, "unrouted-breach", defaultRegime, "notification", securityv1alpha1.ObligationToDecide)
	if len(inc.Status.Policies) != 0 || notification.Deadline == nil {
		t.Errorf("routed to %v, notification due %v: want unrouted, with the 72-hour deadline", inc.Status.Policies, notification.Deadline)
	}
	time.Sleep(time.Second)
	if other := getIncident(t, ns, "no-personal-data"); len(other.Status.Obligations) != 0 {
		t.Errorf("an incident without personal data has obligations %+v", other.Status.Obligations)
	}
}
