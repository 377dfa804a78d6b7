package main

// Records a person makes on an incident: acknowledgement, resolution, the
// report to the supervisory authority, legal hold. Each is a merge patch
// of what the person says; the API server writes the account beside it,
// and what is printed is read back from the stored object.

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/plugin/input"
	"github.com/incidentops/incident-operator/internal/plugin/patch"
	"github.com/incidentops/incident-operator/internal/printable"
	"github.com/incidentops/incident-operator/internal/report"
)

// record is one command that records something on an incident.
type record struct {
	use, short string
	// withBy adds --by, the name people know the user by.
	withBy bool
	flags  func(*pflag.FlagSet)
	// check validates the flags before anything is sent.
	check func(now time.Time) error
	// patch makes the merge patch for the incident as read; by is --by or
	// the user's account name.
	patch func(inc *securityv1alpha1.Incident, by string) ([]byte, error)
	// done says what is recorded, from the stored incident.
	done func(inc *securityv1alpha1.Incident) string
}

func (o *options) recordCommand(r record) *cobra.Command {
	var by, output string
	cmd := &cobra.Command{
		Use:               r.use,
		Short:             r.short,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeIncidents(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if r.check != nil {
				if err := r.check(o.now()); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			c, inc, err := o.incident(ctx, args[0])
			if err != nil {
				return err
			}
			if r.withBy && by == "" {
				if by, err = whoAmI(ctx, c); err != nil {
					return fmt.Errorf("%w: give --by NAME", err)
				}
			}
			body, err := r.patch(inc, by)
			if err != nil {
				return err
			}
			if err := c.Patch(ctx, inc, client.RawPatch(types.MergePatchType, body)); err != nil {
				return fmt.Errorf("incident %s: %w", inc.Name, err)
			}
			if output != "" {
				return printObject(o, output, inc)
			}
			_, err = printable.Fprintf(o.streams.Out, "%s\n", r.done(inc))
			return err
		},
	}
	if r.withBy {
		cmd.Flags().StringVar(&by, "by", "", "the name people know you by (default: your account name); the API server records your account beside it")
	}
	r.flags(cmd.Flags())
	addOutput(cmd, &output, "the incident")
	return cmd
}

// required is an error for a flag left out.
func required(flag, what string) error {
	return fmt.Errorf("--%s is required: %s", flag, what)
}

// requires is a check that a flag was given.
func requires(value *string, flag, what string) func(time.Time) error {
	return func(time.Time) error {
		if *value == "" {
			return required(flag, what)
		}
		return nil
	}
}

func newAckCommand(o *options) *cobra.Command {
	var note string
	return o.recordCommand(record{
		use:    "ack NAME [--note TEXT] [--by NAME]",
		short:  "Acknowledge an incident: you have taken it on, and escalation stops",
		withBy: true,
		flags:  func(f *pflag.FlagSet) { f.StringVar(&note, "note", "", "a note for the people who were told") },
		patch: func(_ *securityv1alpha1.Incident, by string) ([]byte, error) {
			return patch.Acknowledge(by, note), nil
		},
		done: func(inc *securityv1alpha1.Incident) string {
			a := inc.Spec.Acknowledgement
			return fmt.Sprintf("incident/%s acknowledged by %s; attested account: %s", inc.Name, a.By, account(a.AttestedBy))
		},
	})
}

func newResolveCommand(o *options) *cobra.Command {
	var state, summary string
	var s securityv1alpha1.ResolutionState
	cmd := o.recordCommand(record{
		use:    "resolve NAME --state Resolved|FalsePositive|Duplicate --summary TEXT [--by NAME]",
		short:  "Resolve an incident: every clock stops",
		withBy: true,
		flags: func(f *pflag.FlagSet) {
			f.StringVar(&state, "state", "", "how it ended: "+list(report.ResolutionStates))
			f.StringVar(&summary, "summary", "", "what was done (required)")
		},
		check: func(time.Time) (err error) {
			if s, err = input.Enum("state", state, report.ResolutionStates); err != nil {
				return err
			}
			if summary == "" {
				return required("summary", "what was done, for the control document")
			}
			return nil
		},
		patch: func(_ *securityv1alpha1.Incident, by string) ([]byte, error) {
			return patch.Resolve(s, by, summary), nil
		},
		done: func(inc *securityv1alpha1.Incident) string {
			res := inc.Spec.Resolution
			return fmt.Sprintf("incident/%s resolved (%s) by %s; attested account: %s", inc.Name, res.State, res.By, account(res.AttestedBy))
		},
	})
	_ = cmd.RegisterFlagCompletionFunc("state", fixedCompletion(report.ResolutionStates))
	return cmd
}

func newNotifyAuthorityCommand(o *options) *cobra.Command {
	var reference, at, delayReason string
	var when time.Time
	return o.recordCommand(record{
		use:   "notify-authority NAME --reference REF [--at TIME] [--delay-reason TEXT]",
		short: "Record that a personal data breach was reported to the supervisory authority",
		flags: func(f *pflag.FlagSet) {
			f.StringVar(&reference, "reference", "", "the authority's reference for the report (required)")
			f.StringVar(&at, "at", "now", "when the authority was told (2026-11-21 15:00, in your time zone, or RFC 3339)")
			f.StringVar(&delayReason, "delay-reason", "", "why the report was late (required after the deadline)")
		},
		check: func(now time.Time) (err error) {
			if reference == "" {
				return required("reference", "the reference the authority gave the report")
			}
			when, err = input.Time("at", at, time.Local, now)
			return err
		},
		patch: func(inc *securityv1alpha1.Incident, _ string) ([]byte, error) {
			if err := regulatorFilingRequired(inc); err != nil {
				return nil, err
			}
			return patch.AuthorityNotified(when, reference, delayReason), nil
		},
		done: func(inc *securityv1alpha1.Incident) string {
			n := inc.Spec.AuthorityNotification
			deadline := inc.AuthorityDeadline()
			timing := "before the deadline " + deadline.Format(time.RFC3339)
			if n.NotifiedAt.After(deadline) {
				timing = "after the deadline " + deadline.Format(time.RFC3339) + ": " + n.DelayReason
			}
			return fmt.Sprintf("incident/%s: the supervisory authority was told at %s, reference %s, %s; recorded by account %s",
				inc.Name, n.NotifiedAt.Format(time.RFC3339), n.Reference, timing, account(n.RecordedBy))
		},
	})
}

func newHoldCommand(o *options) *cobra.Command {
	var reason string
	return o.recordCommand(record{
		use:   "hold NAME --reason TEXT",
		short: "Place an incident under legal hold: it, its evidence and its audit trail cannot be deleted",
		flags: func(f *pflag.FlagSet) { f.StringVar(&reason, "reason", "", "why, such as a case reference (required)") },
		check: requires(&reason, "reason", "why, such as a case reference"),
		patch: func(inc *securityv1alpha1.Incident, _ string) ([]byte, error) {
			// Merging a new hold into one in force would drop who placed it.
			if h := inc.Spec.LegalHold; h.Active() {
				return nil, fmt.Errorf("incident %s is already under legal hold (%s), placed by account %s", inc.Name, h.Reason, account(h.PlacedBy))
			}
			return patch.PlaceHold(reason), nil
		},
		done: func(inc *securityv1alpha1.Incident) string {
			h := inc.Spec.LegalHold
			return fmt.Sprintf("incident/%s is under legal hold (%s); placed by account %s", inc.Name, h.Reason, account(h.PlacedBy))
		},
	})
}

func newReleaseCommand(o *options) *cobra.Command {
	var reason string
	return o.recordCommand(record{
		use:   "release NAME --reason TEXT",
		short: "Release an incident's legal hold",
		flags: func(f *pflag.FlagSet) { f.StringVar(&reason, "reason", "", "why the hold ends (required)") },
		check: requires(&reason, "reason", "why the hold ends"),
		patch: func(inc *securityv1alpha1.Incident, _ string) ([]byte, error) {
			if !inc.Spec.LegalHold.Active() {
				return nil, fmt.Errorf("incident %s is not under legal hold", inc.Name)
			}
			return patch.ReleaseHold(reason), nil
		},
		done: func(inc *securityv1alpha1.Incident) string {
			h := inc.Spec.LegalHold
			return fmt.Sprintf("incident/%s: legal hold (%s) released (%s); released by account %s", inc.Name, h.Reason, h.Released.Reason, account(h.Released.By))
		},
	})
}
