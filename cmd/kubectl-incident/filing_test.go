package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/plugin/filing"
)

var filingNow = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// regulated is an incident under UK GDPR, aware two hours before
// filingNow: the notification decided required, the data subjects not
// decided yet, and further information whose Filing the operator has not
// opened. plain is an incident no regime applies to.
func regulated() []client.Object {
	deadline := metav1.NewTime(filingNow.Add(70 * time.Hour))
	inc := &securityv1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Namespace: "finance", Name: "breach", UID: "uid-breach"}}
	inc.Spec = securityv1alpha1.IncidentSpec{Title: "Payroll export mailed out", Category: securityv1alpha1.CategoryLoss, Severity: securityv1alpha1.SeverityHigh}
	inc.Status.Obligations = []securityv1alpha1.ObligationStatus{
		{Regime: "uk-gdpr", Stage: "notification", Citation: "UK GDPR Art. 33(1)", Recipient: securityv1alpha1.RecipientSupervisoryAuthority,
			Filing: "breach.uk-gdpr.notification", State: securityv1alpha1.ObligationRequired, Deadline: &deadline,
			Missing: `draft "notification" (UK GDPR Art. 33(1)) to the supervisory authority, with nature, contact, by 2026-11-23T08:00:00Z`},
		{Regime: "uk-gdpr", Stage: "further-information", Citation: "UK GDPR Art. 33(4)", Recipient: securityv1alpha1.RecipientSupervisoryAuthority,
			State: securityv1alpha1.ObligationToDecide, WithoutUndueDelay: true},
		{Regime: "uk-gdpr", Stage: "data-subjects", Citation: "UK GDPR Art. 34(1)", Recipient: securityv1alpha1.RecipientDataSubjects,
			Filing: "breach.uk-gdpr.data-subjects", State: securityv1alpha1.ObligationToDecide, WithoutUndueDelay: true},
	}
	inc.Status.NextObligation = "uk-gdpr/notification"
	inc.Status.NextObligationDeadline = &deadline
	open := func(stage, citation string, recipient securityv1alpha1.Recipient, required ...string) *securityv1alpha1.Filing {
		return &securityv1alpha1.Filing{
			ObjectMeta: metav1.ObjectMeta{Namespace: "finance", Name: securityv1alpha1.FilingName("breach", "uk-gdpr", stage), Generation: 1,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "security.incidentops.io/v1alpha1", Kind: "Incident", Name: "breach", UID: "uid-breach"}}},
			Spec: securityv1alpha1.FilingSpec{Incident: "breach", Regime: "uk-gdpr", Stage: stage, Citation: citation,
				Recipient: recipient, RequiredContent: required, AgreementsRequired: 1},
		}
	}
	notification := open("notification", "UK GDPR Art. 33(1)", securityv1alpha1.RecipientSupervisoryAuthority, "nature", "contact")
	notification.Spec.Decision = &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingRequired, DecidedBy: &securityv1alpha1.Attestation{Username: "rita"}}
	subjects := open("data-subjects", "UK GDPR Art. 34(1)", securityv1alpha1.RecipientDataSubjects, "nature")
	plain := &securityv1alpha1.Incident{ObjectMeta: metav1.ObjectMeta{Namespace: "finance", Name: "plain"}}
	plain.Spec = securityv1alpha1.IncidentSpec{Title: "Tailgating", Category: securityv1alpha1.CategoryLoss, Severity: securityv1alpha1.SeverityLow}
	return []client.Object{inc, notification, subjects, plain}
}

// attested stands for the API server where the fake client does not: each
// step a patch leaves without an account is stamped with the account
// "ann", as the admission policies do, and the generation is raised, as
// every change to the spec does.
func attested(before func(context.Context, client.WithWatch) error) interceptor.Funcs {
	return interceptor.Funcs{Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
		if before != nil {
			if err := before(ctx, c); err != nil {
				return err
			}
		}
		if err := c.Patch(ctx, obj, patch, opts...); err != nil {
			return err
		}
		f, ok := obj.(*securityv1alpha1.Filing)
		if !ok {
			return nil
		}
		ann := &securityv1alpha1.Attestation{Username: "ann"}
		s := &f.Spec
		stamp := func(a **securityv1alpha1.Attestation) {
			if *a == nil {
				*a = ann
			}
		}
		if s.Decision != nil {
			stamp(&s.Decision.DecidedBy)
		}
		if s.Draft != nil {
			stamp(&s.Draft.DraftedBy)
		}
		for i := range s.Agreements {
			stamp(&s.Agreements[i].By)
		}
		if s.Filed != nil {
			stamp(&s.Filed.By)
		}
		if s.Acknowledgement != nil {
			stamp(&s.Acknowledgement.By)
		}
		for i := range s.Correspondence {
			stamp(&s.Correspondence[i].By)
		}
		f.Generation++
		return c.Update(ctx, f)
	}}
}

// regulatedClient holds regulated, with funcs around its calls.
func regulatedClient(funcs interceptor.Funcs) client.WithWatch {
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(regulated()...).WithInterceptorFuncs(funcs).Build()
}

// runFiling runs kubectl incident args in namespace finance against c,
// and returns what it printed, its error as main prints it.
func runFiling(t *testing.T, c client.Client, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runIn(t, c, "finance", filingNow, args...)
}

// runIn runs kubectl incident args in namespace ns against c at the time
// now, and returns what it printed, its error as main prints it.
func runIn(t *testing.T, c client.Client, ns string, now time.Time, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	o := newOptions(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	o.now = func() time.Time { return now }
	o.client = c
	root := newRootCommand(o)
	root.SetArgs(append([]string{args[0], "-n", ns, "--kubeconfig", kubeconfig}, args[1:]...))
	root.SetOut(&out)
	root.SetErr(&errOut)
	if err = root.Execute(); err != nil {
		printError(&errOut, err)
	}
	return out.String(), errOut.String(), err
}

func storedFiling(t *testing.T, c client.Client, stage string) *securityv1alpha1.Filing {
	t.Helper()
	f := &securityv1alpha1.Filing{}
	if err := c.Get(context.Background(), types.NamespacedName{Namespace: "finance", Name: securityv1alpha1.FilingName("breach", "uk-gdpr", stage)}, f); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestDecisionFlags(t *testing.T) {
	tests := map[string]struct {
		required, notRequired bool
		rationale, exemption  string
		want                  securityv1alpha1.FilingDecision
		err                   string
	}{
		"required": {
			required: true,
			want:     securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingRequired},
		},
		"required, with reasons": {
			required: true, rationale: " payroll data of 1200 staff ",
			want: securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingRequired, Rationale: "payroll data of 1200 staff"},
		},
		"not required, with reasons and an exemption in any case": {
			notRequired: true, rationale: "the disk was encrypted", exemption: "unintelligible",
			want: securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingNotRequired, Rationale: "the disk was encrypted", Exemption: securityv1alpha1.ExemptionUnintelligible},
		},
		"neither":                       {err: "give --required or --not-required"},
		"both":                          {required: true, notRequired: true, err: "give --required or --not-required"},
		"not required without reasons":  {notRequired: true, rationale: "  ", err: "--rationale is required: a decision that a stage is not required gives its reasons"},
		"an exemption with required":    {required: true, exemption: "Unintelligible", err: "--exemption is a reason not to file: it goes with --not-required"},
		"an exemption the law does not": {notRequired: true, rationale: "r", exemption: "Embarrassing", err: `--exemption "Embarrassing" is not valid: use one of Unintelligible, RiskNoLongerLikely, DisproportionateEffort`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := decisionFlags(tc.required, tc.notRequired, tc.rationale, tc.exemption)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("got %+v, %v; want an error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestCorrespondenceFlags(t *testing.T) {
	attachment := filepath.Join(t.TempDir(), "letter.pdf")
	if err := os.WriteFile(attachment, []byte("the ICO's letter"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		direction, summary, attachment, at string
		want                               securityv1alpha1.Correspondence
		err                                string
	}{
		"received now": {
			direction: "received", summary: "questions on measures", at: "now",
			want: securityv1alpha1.Correspondence{Direction: securityv1alpha1.CorrespondenceReceived, Summary: "questions on measures", At: metav1.NewTime(filingNow)},
		},
		"sent, with an attachment's digest": {
			direction: "Sent", summary: "answers", attachment: attachment, at: "2026-11-19T08:00:00Z",
			want: securityv1alpha1.Correspondence{Direction: securityv1alpha1.CorrespondenceSent, Summary: "answers",
				At: metav1.NewTime(time.Date(2026, 11, 19, 8, 0, 0, 0, time.UTC)), AttachmentSHA256: digest("the ICO's letter")},
		},
		"no direction":         {summary: "s", at: "now", err: "--direction is required: one of Received, Sent"},
		"a direction unknown":  {direction: "forwarded", summary: "s", at: "now", err: `--direction "forwarded" is not valid`},
		"no summary":           {direction: "sent", at: "now", err: "--summary is required"},
		"a time that is not":   {direction: "sent", summary: "s", at: "yesterday", err: `--at "yesterday" is not a time`},
		"an attachment absent": {direction: "sent", summary: "s", at: "now", attachment: filepath.Join(t.TempDir(), "absent"), err: "--attachment: open"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := correspondenceFlags(tc.direction, tc.summary, tc.attachment, tc.at, filingNow)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("got %+v, %v; want an error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got.Direction != tc.want.Direction || got.Summary != tc.want.Summary || !got.At.Equal(&tc.want.At) || got.AttachmentSHA256 != tc.want.AttachmentSHA256 {
				t.Errorf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// Each command records its step on the Filing that --regime and --stage
// name, says what it recorded with the account from the stored Filing,
// and refuses before sending what cannot be recorded.
func TestFilingCommands(t *testing.T) {
	contentFile := filepath.Join(t.TempDir(), "draft.yaml")
	if err := os.WriteFile(contentFile, []byte("nature: Payroll export mailed to the wrong firm\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		args []string
		// out is what the command prints, in full, or the error's words.
		out   string
		err   []string
		stage string
		check func(*securityv1alpha1.FilingSpec) bool
	}{
		"decide not required, exempt": {
			args:  []string{"decide", "breach", "--stage", "data-subjects", "--not-required", "--rationale", "the file was encrypted", "--exemption", "Unintelligible"},
			out:   "filing/breach.uk-gdpr.data-subjects: uk-gdpr/data-subjects decided NotRequired, exempt as Unintelligible (the file was encrypted); decided by account ann\n",
			stage: "data-subjects",
			check: func(s *securityv1alpha1.FilingSpec) bool {
				return s.Decision.Outcome == securityv1alpha1.FilingNotRequired && s.Decision.Exemption == securityv1alpha1.ExemptionUnintelligible
			},
		},
		"decide a stage decided": {
			args: []string{"decide", "breach", "--regime", "uk-gdpr", "--stage", "notification", "--required"},
			err:  []string{"filing breach.uk-gdpr.notification: uk-gdpr/notification is already decided Required by account rita"},
		},
		"decide with three stages open": {
			args: []string{"decide", "breach", "--required"},
			err:  []string{"incident breach has 3 open obligations under uk-gdpr: give --stage, one of notification (Required), further-information (ToDecide), data-subjects (ToDecide)"},
		},
		"draft from a file and a flag": {
			args:  []string{"draft", "breach", "--stage", "notification", "--content-file", contentFile, "--content", "contact=DPO, dpo@example.org"},
			out:   "filing/breach.uk-gdpr.notification: uk-gdpr/notification drafted with 2 fields (contact, nature); drafted by account ann\n",
			stage: "notification",
			check: func(s *securityv1alpha1.FilingSpec) bool {
				return s.Draft.Content["nature"] == "Payroll export mailed to the wrong firm" && s.Draft.Content["contact"] == "DPO, dpo@example.org"
			},
		},
		"draft that lacks a field the stage asks for": {
			args:  []string{"draft", "breach", "--stage", "notification", "--content", "nature=n", "--content", "measures=m"},
			err:   []string{"the draft of uk-gdpr/notification (UK GDPR Art. 33(1)) lacks contact: the stage asks for nature, contact"},
			stage: "notification",
			check: func(s *securityv1alpha1.FilingSpec) bool { return s.Draft == nil },
		},
		"draft on a Filing not opened": {
			args: []string{"draft", "breach", "--stage", "further-information", "--content", "nature=n"},
			err: []string{"the operator has not opened the Filing of uk-gdpr/further-information for incident breach (filing breach.uk-gdpr.further-information) yet",
				"the regimes that apply to it are uk-gdpr (notification, further-information, data-subjects)"},
		},
		"agree": {
			args:  []string{"agree", "breach", "--stage", "notification", "--note", "checked the counts"},
			out:   "filing/breach.uk-gdpr.notification: uk-gdpr/notification agreement 0 recorded (1 of the 1 the stage asks for): checked the counts; agreed by account ann\n",
			stage: "notification",
			check: func(s *securityv1alpha1.FilingSpec) bool {
				return len(s.Agreements) == 1 && s.Agreements[0].Sequence == 0 && s.Agreements[0].Note == "checked the counts"
			},
		},
		"file after the deadline without reasons": {
			args: []string{"file", "breach", "--stage", "notification", "--reference", "ICO-1", "--at", "2026-11-24T09:00:00Z"},
			err:  []string{"uk-gdpr/notification was due by 2026-11-23T08:00:00Z: a filing after its deadline gives the reasons for the delay (--delay-reason)"},
		},
		"file": {
			args:  []string{"file", "breach", "--stage", "notification", "--reference", "ICO-1", "--at", "2026-11-20T09:30:00Z"},
			out:   "filing/breach.uk-gdpr.notification: uk-gdpr/notification filed with SupervisoryAuthority at 2026-11-20T09:30:00Z, reference ICO-1; recorded by account ann\n",
			stage: "notification",
			check: func(s *securityv1alpha1.FilingSpec) bool { return s.Filed.Reference == "ICO-1" },
		},
		"file without a reference": {
			args: []string{"file", "breach", "--stage", "notification"},
			err:  []string{"--reference is required"},
		},
		"acknowledge-filing": {
			args:  []string{"acknowledge-filing", "breach", "--stage", "notification", "--case-number", "C-9", "--at", "2026-11-20T09:45:00Z"},
			out:   "filing/breach.uk-gdpr.notification: uk-gdpr/notification acknowledged by SupervisoryAuthority at 2026-11-20T09:45:00Z, case number C-9; recorded by account ann\n",
			stage: "notification",
			check: func(s *securityv1alpha1.FilingSpec) bool { return s.Acknowledgement.CaseNumber == "C-9" },
		},
		"correspond": {
			args:  []string{"correspond", "breach", "--stage", "notification", "--direction", "received", "--summary", "asks for the count", "--at", "2026-11-20T09:50:00Z"},
			out:   "filing/breach.uk-gdpr.notification: uk-gdpr/notification letter 0, Received at 2026-11-20T09:50:00Z: asks for the count; recorded by account ann\n",
			stage: "notification",
			check: func(s *securityv1alpha1.FilingSpec) bool {
				return len(s.Correspondence) == 1 && s.Correspondence[0].Direction == securityv1alpha1.CorrespondenceReceived
			},
		},
		"a regime that does not apply": {
			args: []string{"agree", "breach", "--regime", "nis2"},
			err:  []string{`--regime "nis2" is not a regime of incident breach: its regimes are uk-gdpr`},
		},
		"an incident no regime applies to": {
			args: []string{"agree", "plain"},
			err:  []string{"no regulatory regime applies to incident plain"},
		},
		"notify-authority under a regime": {
			args: []string{"notify-authority", "breach", "--reference", "ICO-1"},
			err: []string{"one person may no longer record it with notify-authority",
				"kubectl incident draft breach --regime uk-gdpr --stage notification --content FIELD=TEXT",
				"kubectl incident agree breach --regime uk-gdpr --stage notification",
				"kubectl incident file breach --regime uk-gdpr --stage notification --reference REF"},
		},
		"notify-authority with no regime": {
			args: []string{"notify-authority", "plain", "--reference", "ICO-2", "--at", "2026-11-20T09:30:00Z"},
			out:  "incident/plain: the supervisory authority was told at 2026-11-20T09:30:00Z, reference ICO-2",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := regulatedClient(attested(nil))
			stdout, stderr, err := runFiling(t, c, tc.args...)
			if (err != nil) != (tc.err != nil) {
				t.Fatalf("error %v, want %q\nstdout: %q\nstderr: %q", err, tc.err, stdout, stderr)
			}
			for _, want := range tc.err {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if tc.out != "" && !strings.HasPrefix(stdout, tc.out) {
				t.Errorf("printed\n%q, want\n%q", stdout, tc.out)
			}
			if tc.check != nil {
				if f := storedFiling(t, c, tc.stage); !tc.check(&f.Spec) {
					t.Errorf("stored Filing: %+v", f.Spec)
				}
			}
		})
	}
}

// An agreement made while another is being sent is numbered after it:
// the first patch is refused, and the one sent after reading the Filing
// again lands. Both are kept.
func TestAgreementsAtOnceAreBothKept(t *testing.T) {
	sent := 0
	c := regulatedClient(attested(func(ctx context.Context, c client.WithWatch) error {
		if sent++; sent == 1 {
			return agreeAs(ctx, c, "bob")
		}
		return nil
	}))
	stdout, stderr, err := runFiling(t, c, "agree", "breach", "--stage", "notification", "--note", "mine")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if want := "agreement 1 recorded (2 of the 1 the stage asks for): mine; agreed by account ann\n"; !strings.HasSuffix(stdout, want) {
		t.Errorf("printed %q, want it to end %q", stdout, want)
	}
	a := storedFiling(t, c, "notification").Spec.Agreements
	if len(a) != 2 || a[0].By.Username != "bob" || a[1].Sequence != 1 || a[1].Note != "mine" {
		t.Errorf("agreements %+v, want bob's then this one", a)
	}
	if sent != 2 {
		t.Errorf("%d patches sent, want 2", sent)
	}
}

// The operator's writes to a Filing's status or metadata change its
// resourceVersion and not its generation: a step sent meanwhile is
// recorded at once.
func TestAWriteOutsideTheSpecMeanwhileIsNoConflict(t *testing.T) {
	sent := 0
	c := regulatedClient(attested(func(ctx context.Context, c client.WithWatch) error {
		if sent++; sent > 1 {
			return nil
		}
		f := storedFilingOf(ctx, c, "notification")
		f.Labels = map[string]string{"checked": "true"}
		return c.Update(ctx, f)
	}))
	if _, stderr, err := runFiling(t, c, "agree", "breach", "--stage", "notification"); err != nil || sent != 1 {
		t.Errorf("after %d patches: %v\n%s", sent, err, stderr)
	}
}

// A Filing that changes again after it was read again is not patched a
// third time: the command says so, and records nothing over the others.
func TestAFilingChangingTwiceIsReported(t *testing.T) {
	sent := 0
	c := regulatedClient(attested(func(ctx context.Context, c client.WithWatch) error {
		sent++
		return agreeAs(ctx, c, "bob")
	}))
	_, stderr, err := runFiling(t, c, "agree", "breach", "--stage", "notification")
	if err == nil || !strings.Contains(stderr, "filing breach.uk-gdpr.notification changed again while this step was being sent, so it was not recorded; run the command again") {
		t.Errorf("error %v:\n%s", err, stderr)
	}
	if a := storedFiling(t, c, "notification").Spec.Agreements; len(a) != 2 || a[0].By.Username != "bob" || a[1].By.Username != "bob" || sent != 2 {
		t.Errorf("after %d patches, agreements %+v: want bob's two only", sent, a)
	}
}

// The same step recorded by someone else while this one was sent is
// refused once the Filing is read again, naming who recorded it.
func TestADecisionMadeMeanwhileIsNotOverwritten(t *testing.T) {
	c := regulatedClient(attested(func(ctx context.Context, c client.WithWatch) error {
		f := storedFilingOf(ctx, c, "data-subjects")
		if f.Spec.Decision != nil {
			return nil
		}
		f.Spec.Decision = &securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingRequired, DecidedBy: &securityv1alpha1.Attestation{Username: "bob"}}
		f.Generation++
		return c.Update(ctx, f)
	}))
	_, stderr, err := runFiling(t, c, "decide", "breach", "--stage", "data-subjects", "--not-required", "--rationale", "encrypted")
	if err == nil || !strings.Contains(stderr, "uk-gdpr/data-subjects is already decided Required by account bob") {
		t.Errorf("error %v:\n%s", err, stderr)
	}
	if d := storedFiling(t, c, "data-subjects").Spec.Decision; d.Outcome != securityv1alpha1.FilingRequired || d.DecidedBy.Username != "bob" {
		t.Errorf("decision %+v, want bob's", d)
	}
}

// A Filing left by a deleted incident of the same name is not this
// incident's: no step is recorded on it, and obligations shows none.
func TestAFilingOfAnEarlierIncidentIsNotRecordedOn(t *testing.T) {
	c := regulatedClient(attested(nil))
	earlier := &securityv1alpha1.Filing{
		ObjectMeta: metav1.ObjectMeta{Namespace: "finance", Name: "breach.uk-gdpr.further-information", Generation: 1,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "security.incidentops.io/v1alpha1", Kind: "Incident", Name: "breach", UID: "uid-earlier"}}},
		Spec: securityv1alpha1.FilingSpec{Incident: "breach", Regime: "uk-gdpr", Stage: "further-information", AgreementsRequired: 1},
	}
	if err := c.Create(context.Background(), earlier); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := runFiling(t, c, "decide", "breach", "--stage", "further-information", "--required")
	if err == nil || !strings.Contains(stderr, "filing breach.uk-gdpr.further-information belongs to an earlier incident named breach, not to this one") {
		t.Errorf("error %v:\n%s", err, stderr)
	}
	if d := storedFiling(t, c, "further-information").Spec.Decision; d != nil {
		t.Errorf("a decision was recorded on an earlier incident's Filing: %+v", d)
	}
	stdout, _, _ := runFiling(t, c, "obligations", "breach")
	if !strings.Contains(stdout, "filing:   breach.uk-gdpr.further-information, not opened by the operator yet\n") {
		t.Errorf("obligations shows the earlier incident's Filing:\n%s", stdout)
	}
}

func storedFilingOf(ctx context.Context, c client.Client, stage string) *securityv1alpha1.Filing {
	f := &securityv1alpha1.Filing{}
	_ = c.Get(ctx, types.NamespacedName{Namespace: "finance", Name: securityv1alpha1.FilingName("breach", "uk-gdpr", stage)}, f)
	return f
}

// agreeAs records an agreement by user on the notification's Filing, as
// another person's kubectl incident agree would.
func agreeAs(ctx context.Context, c client.Client, user string) error {
	f := storedFilingOf(ctx, c, "notification")
	f.Spec.Agreements = append(f.Spec.Agreements, securityv1alpha1.FilingAgreement{Sequence: int32(len(f.Spec.Agreements)), By: &securityv1alpha1.Attestation{Username: user}})
	f.Generation++
	return c.Update(ctx, f)
}

func TestObligations(t *testing.T) {
	c := regulatedClient(attested(nil))
	for _, step := range [][]string{
		{"draft", "breach", "--stage", "notification", "--content", "nature=n", "--content", "contact=c"},
		{"agree", "breach", "--stage", "notification", "--note", "ok"},
	} {
		if _, stderr, err := runFiling(t, c, step...); err != nil {
			t.Fatalf("%v: %s", step, stderr)
		}
	}
	stdout, stderr, err := runFiling(t, c, "obligations", "breach")
	if err != nil {
		t.Fatalf("%v: %s", err, stderr)
	}
	for _, want := range []string{
		"incident/breach: 3 obligations under uk-gdpr\nnext: uk-gdpr/notification, due 2026-11-23T08:00:00Z (in 2d22h)\n",
		"\nuk-gdpr/notification: UK GDPR Art. 33(1), to SupervisoryAuthority\n",
		"  state:      Required\n",
		"  deadline:   2026-11-23T08:00:00Z (in 2d22h)\n",
		"  missed:     no\n",
		`  missing:    draft "notification" (UK GDPR Art. 33(1)) to the supervisory authority`,
		"  filing:     breach.uk-gdpr.notification\n",
		"  decided:    Required; by rita\n",
		"  drafted:    2 fields (contact, nature); by ann\n",
		"  agreements: 1 of 1; ann (ok)\n",
		"\nuk-gdpr/further-information: UK GDPR Art. 33(4), to SupervisoryAuthority\n",
		"  deadline: without undue delay (the rules give no fixed time)\n",
		"  filing:   breach.uk-gdpr.further-information, not opened by the operator yet\n",
		"\nuk-gdpr/data-subjects: UK GDPR Art. 34(1), to DataSubjects\n",
		"  agreements: 0 of 1\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("obligations lacks %q:\n%s", want, stdout)
		}
	}

	stdout, _, err = runFiling(t, c, "obligations", "breach", "-o", "json")
	var entries []filing.Entry
	if err != nil || json.Unmarshal([]byte(stdout), &entries) != nil {
		t.Fatalf("-o json: %v\n%s", err, stdout)
	}
	if len(entries) != 3 || entries[0].Filing == nil || entries[0].Filing.Spec.Draft.DraftedBy.Username != "ann" || entries[1].Filing != nil {
		t.Errorf("-o json: %+v", entries)
	}

	stdout, _, _ = runFiling(t, c, "obligations", "plain")
	if want := "incident/plain: no regulatory regime applies to it (its status lists no obligations)\n"; stdout != want {
		t.Errorf("obligations of plain: %q, want %q", stdout, want)
	}
}

func TestDeadlineWords(t *testing.T) {
	due := metav1.NewTime(filingNow.Add(-3 * time.Hour))
	tests := map[string]struct {
		ob   securityv1alpha1.ObligationStatus
		want string
	}{
		"missed":                 {ob: securityv1alpha1.ObligationStatus{State: securityv1alpha1.ObligationDrafted, Deadline: &due, Missed: true}, want: "2026-11-20T07:00:00Z (3h ago)"},
		"filed":                  {ob: securityv1alpha1.ObligationStatus{State: securityv1alpha1.ObligationFiled, Deadline: &due, Frozen: true}, want: "2026-11-20T07:00:00Z (fixed when it was filed)"},
		"without undue delay":    {ob: securityv1alpha1.ObligationStatus{State: securityv1alpha1.ObligationToDecide, WithoutUndueDelay: true}, want: "without undue delay (the rules give no fixed time)"},
		"clock not started":      {ob: securityv1alpha1.ObligationStatus{State: securityv1alpha1.ObligationToDecide}, want: "clock not started"},
		"not required: no clock": {ob: securityv1alpha1.ObligationStatus{State: securityv1alpha1.ObligationNotRequired}, want: "none"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := deadlineWords(tc.ob, filingNow); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFilingCompletion(t *testing.T) {
	tests := map[string]struct {
		args []string
		want []string
	}{
		"--regime":               {args: []string{cobraComplete, "agree", "breach", "--regime", ""}, want: []string{"uk-gdpr\t3 obligations"}},
		"--stage":                {args: []string{cobraComplete, "draft", "breach", "--regime", "uk-gdpr", "--stage", "d"}, want: []string{"data-subjects\tToDecide, UK GDPR Art. 34(1) (uk-gdpr)"}},
		"--stage of no incident": {args: []string{cobraComplete, "draft", "--stage", ""}},
		"--exemption":            {args: []string{cobraComplete, "decide", "breach", "--exemption", ""}, want: []string{"Unintelligible", "RiskNoLongerLikely", "DisproportionateEffort"}},
		"--direction":            {args: []string{cobraComplete, "correspond", "breach", "--direction", ""}, want: []string{"Received", "Sent"}},
		"NAME":                   {args: []string{cobraComplete, "obligations", "b"}, want: []string{"breach\tPayroll export mailed out"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			stdout, _, _ := runFiling(t, regulatedClient(interceptor.Funcs{}), tc.args...)
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
				if line != "" && !strings.HasPrefix(line, ":") {
					got = append(got, line)
				}
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("completions %q, want %q", got, tc.want)
			}
		})
	}
}
