package main

// The six steps of a Filing, one command each.

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/custody"
	"github.com/incidentops/incident-operator/internal/plugin/filing"
	"github.com/incidentops/incident-operator/internal/plugin/input"
	"github.com/incidentops/incident-operator/internal/plugin/patch"
)

// exemptions are the values of a decision's exemption.
var exemptions = []securityv1alpha1.Exemption{
	securityv1alpha1.ExemptionUnintelligible,
	securityv1alpha1.ExemptionRiskNoLongerLikely,
	securityv1alpha1.ExemptionDisproportionateEffort,
}

// directions are the values of a letter's direction.
var directions = []securityv1alpha1.CorrespondenceDirection{
	securityv1alpha1.CorrespondenceReceived,
	securityv1alpha1.CorrespondenceSent,
}

func newDecideCommand(o *options) *cobra.Command {
	var isRequired, isNotRequired bool
	var rationale, exemption string
	var decision securityv1alpha1.FilingDecision
	cmd := o.filingCommand(filingStep{
		use:   "decide NAME [--regime R] [--stage S] --required|--not-required [--rationale TEXT] [--exemption E]",
		short: "Decide whether a stage of a regulatory regime must be filed, and why",
		long: `Decide whether a stage of a regulatory regime must be filed: --required, or
--not-required with the reasons (--rationale), as UK GDPR Art. 33(5) asks.
A decision that a stage is not required stands once someone other than the
decider agrees to it (kubectl incident agree). Telling the data subjects
may be exempt (UK GDPR Art. 34(3)): --exemption names which exemption.
A decision cannot be changed once recorded.`,
		flags: func(f *pflag.FlagSet) {
			f.BoolVar(&isRequired, "required", false, "the stage must be filed")
			f.BoolVar(&isNotRequired, "not-required", false, "the stage need not be filed (give --rationale)")
			f.StringVar(&rationale, "rationale", "", "why (required with --not-required)")
			f.StringVar(&exemption, "exemption", "", "with --not-required, the exemption relied on: "+list(exemptions))
		},
		check: func(time.Time) (err error) {
			decision, err = decisionFlags(isRequired, isNotRequired, rationale, exemption)
			return err
		},
		patch: func(f *securityv1alpha1.Filing, _ securityv1alpha1.ObligationStatus) ([]byte, error) {
			if d := f.Spec.Decision; d != nil {
				return nil, stepRecorded(f, "decided "+string(d.Outcome), d.DecidedBy)
			}
			return patch.FilingStep(f.Generation, "decision", decision)
		},
		done: func(f *securityv1alpha1.Filing, _ securityv1alpha1.ObligationStatus) string {
			d := f.Spec.Decision
			what := "decided " + string(d.Outcome)
			if d.Exemption != "" {
				what += ", exempt as " + string(d.Exemption)
			}
			if d.Rationale != "" {
				what += " (" + d.Rationale + ")"
			}
			return stepDone(f, what, "decided", d.DecidedBy)
		},
	})
	_ = cmd.RegisterFlagCompletionFunc("exemption", fixedCompletion(exemptions))
	return cmd
}

// decisionFlags reads --required, --not-required, --rationale and
// --exemption into the decision to record.
func decisionFlags(isRequired, isNotRequired bool, rationale, exemption string) (securityv1alpha1.FilingDecision, error) {
	d := securityv1alpha1.FilingDecision{Outcome: securityv1alpha1.FilingRequired, Rationale: strings.TrimSpace(rationale)}
	switch {
	case isRequired == isNotRequired:
		return d, fmt.Errorf("give --required or --not-required: whether the stage must be filed")
	case isNotRequired:
		d.Outcome = securityv1alpha1.FilingNotRequired
		if d.Rationale == "" {
			return d, required("rationale", "a decision that a stage is not required gives its reasons (UK GDPR Art. 33(5))")
		}
	}
	if exemption != "" {
		if isRequired {
			return d, fmt.Errorf("--exemption is a reason not to file: it goes with --not-required")
		}
		e, err := input.Enum("exemption", exemption, exemptions)
		if err != nil {
			return d, err
		}
		d.Exemption = e
	}
	return d, nil
}

func newDraftCommand(o *options) *cobra.Command {
	var pairs []string
	var file string
	var content map[string]securityv1alpha1.ContentValue
	return o.filingCommand(filingStep{
		use:   "draft NAME [--regime R] [--stage S] --content FIELD=TEXT ... [--content-file FILE]",
		short: "Draft what a regulatory filing says, field by field",
		long: `Draft what a regulatory filing says, field by field: --content FIELD=TEXT once
for each field, or a YAML or JSON map of field to text in --content-file, or
both. The stage names the fields it must carry (kubectl incident obligations
shows them as missing); a draft that lacks one is refused before it is sent,
as a draft cannot be changed once recorded: say of what is not known yet that
it is not, and give it in a later stage. Someone other than the drafter then
agrees to it (kubectl incident agree).`,
		flags: func(f *pflag.FlagSet) {
			f.StringArrayVar(&pairs, "content", nil, "FIELD=TEXT, once for each field, such as nature='Laptop stolen from a car'")
			f.StringVar(&file, "content-file", "", "a YAML or JSON file mapping each field to its text")
		},
		check: func(time.Time) error {
			var data []byte
			if file != "" {
				var err error
				if data, err = os.ReadFile(file); err != nil {
					return fmt.Errorf("--content-file: %w", err)
				}
			}
			var err error
			content, err = input.Content("content", pairs, file, data)
			return err
		},
		patch: func(f *securityv1alpha1.Filing, _ securityv1alpha1.ObligationStatus) ([]byte, error) {
			if d := f.Spec.Draft; d != nil {
				return nil, stepRecorded(f, "drafted", d.DraftedBy)
			}
			if missing := filing.MissingContent(f.Spec.RequiredContent, content); len(missing) > 0 {
				return nil, fmt.Errorf("the draft of %s/%s (%s) lacks %s: the stage asks for %s, and a draft cannot be changed once recorded; give each with --content FIELD=TEXT",
					f.Spec.Regime, f.Spec.Stage, f.Spec.Citation, strings.Join(missing, ", "), strings.Join(f.Spec.RequiredContent, ", "))
			}
			return patch.FilingStep(f.Generation, "draft", securityv1alpha1.FilingDraft{Content: content})
		},
		done: func(f *securityv1alpha1.Filing, _ securityv1alpha1.ObligationStatus) string {
			d := f.Spec.Draft
			return stepDone(f, fmt.Sprintf("drafted with %s", fields(d.Content)), "drafted", d.DraftedBy)
		},
	})
}

func newAgreeCommand(o *options) *cobra.Command {
	var note string
	var sequence int32
	return o.filingCommand(filingStep{
		use:   "agree NAME [--regime R] [--stage S] [--note TEXT]",
		short: "Agree to a filing's draft, or to a decision that it is not required",
		long: `Agree to a filing's draft, or to a decision that the stage is not required.
Agreeing needs the verb agree on filings (the role incident-filing-approver);
the drafter, or the one who decided, may not agree, and nobody agrees twice.
If someone else agrees at the same moment, both agreements are kept, each
with its own number.`,
		flags: func(f *pflag.FlagSet) {
			f.StringVar(&note, "note", "", "what you checked, or what you agree to on what condition")
		},
		patch: func(f *securityv1alpha1.Filing, _ securityv1alpha1.ObligationStatus) ([]byte, error) {
			sequence = int32(len(f.Spec.Agreements))
			return patch.FilingAppend(f.Generation, "agreements", len(f.Spec.Agreements), securityv1alpha1.FilingAgreement{Sequence: sequence, Note: note})
		},
		done: func(f *securityv1alpha1.Filing, _ securityv1alpha1.ObligationStatus) string {
			var a securityv1alpha1.FilingAgreement
			if i := slices.IndexFunc(f.Spec.Agreements, func(a securityv1alpha1.FilingAgreement) bool { return a.Sequence == sequence }); i >= 0 {
				a = f.Spec.Agreements[i]
			}
			what := fmt.Sprintf("agreement %d recorded (%d of the %d the stage asks for)", sequence, len(f.Spec.Agreements), f.Spec.AgreementsRequired)
			if a.Note != "" {
				what += ": " + a.Note
			}
			return stepDone(f, what, "agreed", a.By)
		},
	})
}

func newFileCommand(o *options) *cobra.Command {
	var reference, at, delayReason string
	var when time.Time
	return o.filingCommand(filingStep{
		use:   "file NAME [--regime R] [--stage S] --reference REF [--at TIME] [--delay-reason TEXT]",
		short: "Record that a regulatory filing was made with its recipient",
		long: `Record that the agreed draft was filed with the stage's recipient, under the
reference the recipient gave it. The API server refuses it before the draft
has as many agreements as the stage asks for. A filing after the deadline
gives the reasons for the delay (UK GDPR Art. 33(1)).`,
		flags: func(f *pflag.FlagSet) {
			f.StringVar(&reference, "reference", "", "the reference the filing was made under, such as the recipient's form number (required)")
			f.StringVar(&at, "at", "now", "when it was filed (2026-11-21 15:00, in your time zone, or RFC 3339)")
			f.StringVar(&delayReason, "delay-reason", "", "why it was filed after the deadline (required then)")
		},
		check: func(now time.Time) (err error) {
			when, err = requiredAt(reference, "reference", "the reference the filing was made under", at, now)
			return err
		},
		patch: func(f *securityv1alpha1.Filing, ob securityv1alpha1.ObligationStatus) ([]byte, error) {
			if s := f.Spec.Filed; s != nil {
				return nil, stepRecorded(f, "filed", s.By)
			}
			if ob.Deadline != nil && when.After(ob.Deadline.Time) && strings.TrimSpace(delayReason) == "" {
				return nil, fmt.Errorf("%s/%s was due by %s: a filing after its deadline gives the reasons for the delay (--delay-reason)",
					ob.Regime, ob.Stage, ob.Deadline.UTC().Format(time.RFC3339))
			}
			return patch.FilingStep(f.Generation, "filed", securityv1alpha1.FilingSubmission{At: metav1.NewTime(when), Reference: reference, DelayReason: delayReason})
		},
		done: func(f *securityv1alpha1.Filing, ob securityv1alpha1.ObligationStatus) string {
			s := f.Spec.Filed
			what := fmt.Sprintf("filed with %s at %s, reference %s", f.Spec.Recipient, s.At.UTC().Format(time.RFC3339), s.Reference)
			if ob.Deadline != nil && s.At.After(ob.Deadline.Time) {
				what += fmt.Sprintf(", after the deadline %s: %s", ob.Deadline.UTC().Format(time.RFC3339), s.DelayReason)
			}
			return stepDone(f, what, "recorded", s.By)
		},
	})
}

func newAcknowledgeFilingCommand(o *options) *cobra.Command {
	var caseNumber, at string
	var when time.Time
	return o.filingCommand(filingStep{
		use:   "acknowledge-filing NAME [--regime R] [--stage S] --case-number N [--at TIME]",
		short: "Record that the recipient acknowledged a regulatory filing, with its case number",
		flags: func(f *pflag.FlagSet) {
			f.StringVar(&caseNumber, "case-number", "", "the case number the recipient gave the filing (required)")
			f.StringVar(&at, "at", "now", "when the recipient acknowledged it (2026-11-22 09:00, in your time zone, or RFC 3339)")
		},
		check: func(now time.Time) (err error) {
			when, err = requiredAt(caseNumber, "case-number", "the case number the recipient gave the filing", at, now)
			return err
		},
		patch: func(f *securityv1alpha1.Filing, _ securityv1alpha1.ObligationStatus) ([]byte, error) {
			if a := f.Spec.Acknowledgement; a != nil {
				return nil, stepRecorded(f, "acknowledged", a.By)
			}
			return patch.FilingStep(f.Generation, "acknowledgement", securityv1alpha1.FilingAcknowledgement{At: metav1.NewTime(when), CaseNumber: caseNumber})
		},
		done: func(f *securityv1alpha1.Filing, _ securityv1alpha1.ObligationStatus) string {
			a := f.Spec.Acknowledgement
			return stepDone(f, fmt.Sprintf("acknowledged by %s at %s, case number %s", f.Spec.Recipient, a.At.UTC().Format(time.RFC3339), a.CaseNumber), "recorded", a.By)
		},
	})
}

func newCorrespondCommand(o *options) *cobra.Command {
	var direction, summary, attachment, at string
	var letter securityv1alpha1.Correspondence
	cmd := o.filingCommand(filingStep{
		use:   "correspond NAME [--regime R] [--stage S] --direction received|sent --summary TEXT [--attachment FILE] [--at TIME]",
		short: "Record a letter, e-mail or call with a filing's recipient after the filing",
		long: `Record one letter, e-mail or call with the recipient after the filing: which
way it went, when, and what it said. --attachment records the SHA-256 of a
file kept elsewhere (the file itself is not sent), so that the document can
later be shown to be the one recorded. If someone else records a letter at
the same moment, both are kept, each with its own number.`,
		flags: func(f *pflag.FlagSet) {
			f.StringVar(&direction, "direction", "", "received from the recipient, or sent to it: "+list(directions))
			f.StringVar(&summary, "summary", "", "what it said (required)")
			f.StringVar(&attachment, "attachment", "", "a file: its SHA-256 is recorded, the file is not sent")
			f.StringVar(&at, "at", "now", "when it was sent or received (2026-11-25 14:00, in your time zone, or RFC 3339)")
		},
		check: func(now time.Time) (err error) {
			letter, err = correspondenceFlags(direction, summary, attachment, at, now)
			return err
		},
		patch: func(f *securityv1alpha1.Filing, _ securityv1alpha1.ObligationStatus) ([]byte, error) {
			letter.Sequence = int32(len(f.Spec.Correspondence))
			return patch.FilingAppend(f.Generation, "correspondence", len(f.Spec.Correspondence), letter)
		},
		done: func(f *securityv1alpha1.Filing, _ securityv1alpha1.ObligationStatus) string {
			c := letter
			if i := slices.IndexFunc(f.Spec.Correspondence, func(c securityv1alpha1.Correspondence) bool { return c.Sequence == letter.Sequence }); i >= 0 {
				c = f.Spec.Correspondence[i]
			}
			what := fmt.Sprintf("letter %d, %s at %s: %s", c.Sequence, c.Direction, c.At.UTC().Format(time.RFC3339), c.Summary)
			if c.AttachmentSHA256 != "" {
				what += ", attachment SHA-256 " + c.AttachmentSHA256
			}
			return stepDone(f, what, "recorded", c.By)
		},
	})
	_ = cmd.RegisterFlagCompletionFunc("direction", fixedCompletion(directions))
	return cmd
}

// requiredAt checks that the flag that says what happened was given, and
// reads --at, when it happened.
func requiredAt(value, flag, what, at string, now time.Time) (time.Time, error) {
	if strings.TrimSpace(value) == "" {
		return time.Time{}, required(flag, what)
	}
	return input.Time("at", at, time.Local, now)
}

// correspondenceFlags reads --direction, --summary, --attachment and --at
// into the letter to record; its sequence is set from the Filing as read.
func correspondenceFlags(direction, summary, attachment, at string, now time.Time) (securityv1alpha1.Correspondence, error) {
	var c securityv1alpha1.Correspondence
	d, err := input.Enum("direction", direction, directions)
	if err != nil {
		return c, err
	}
	if strings.TrimSpace(summary) == "" {
		return c, required("summary", "what the letter, e-mail or call said")
	}
	when, err := input.Time("at", at, time.Local, now)
	if err != nil {
		return c, err
	}
	c = securityv1alpha1.Correspondence{Direction: d, Summary: summary, At: metav1.NewTime(when)}
	if attachment != "" {
		f, err := os.Open(attachment)
		if err != nil {
			return c, fmt.Errorf("--attachment: %w", err)
		}
		defer f.Close()
		if c.AttachmentSHA256, err = custody.Digest(f); err != nil {
			return c, fmt.Errorf("--attachment %s: %w", attachment, err)
		}
	}
	return c, nil
}

// fields names a draft's fields and counts them.
func fields(content map[string]securityv1alpha1.ContentValue) string {
	names := slices.Sorted(maps.Keys(content))
	unit := "fields"
	if len(names) == 1 {
		unit = "field"
	}
	return fmt.Sprintf("%d %s (%s)", len(names), unit, strings.Join(names, ", "))
}
