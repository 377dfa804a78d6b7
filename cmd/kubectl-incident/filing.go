package main

// Regulatory filings: each stage of each regime that applies to an incident
// is a Filing the operator opens, and people record its steps on it one
// per request (decide, draft, agree, file, acknowledge-filing, correspond).
// The API server writes the account beside each step and refuses what the
// rules forbid (the drafter agreeing, a filing before its agreements, any
// change to a step once made); what is printed is read back from the
// stored Filing.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/plugin/filing"
	"github.com/incidentops/incident-operator/internal/printable"
)

// filingStep is one command that records a step on a Filing.
type filingStep struct {
	use, short, long string
	flags            func(*pflag.FlagSet)
	// check validates the flags before anything is read.
	check func(now time.Time) error
	// patch makes the JSON patch for the Filing as read, or refuses a step
	// it already has; ob is the obligation the Filing records.
	patch func(f *securityv1alpha1.Filing, ob securityv1alpha1.ObligationStatus) ([]byte, error)
	// done says what is recorded, from the stored Filing.
	done func(f *securityv1alpha1.Filing, ob securityv1alpha1.ObligationStatus) string
}

func (o *options) filingCommand(s filingStep) *cobra.Command {
	var regime, stage, output string
	cmd := &cobra.Command{
		Use:               s.use,
		Short:             s.short,
		Long:              s.long,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeIncidents(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if s.check != nil {
				if err := s.check(o.now()); err != nil {
					return err
				}
			}
			ctx := cmd.Context()
			c, inc, err := o.incident(ctx, args[0])
			if err != nil {
				return err
			}
			ob, err := filing.Select(inc, regime, stage)
			if err != nil {
				return err
			}
			f, err := getFiling(ctx, c, inc, ob)
			if err != nil {
				return err
			}
			if f, err = recordStep(ctx, c, f, func(f *securityv1alpha1.Filing) ([]byte, error) { return s.patch(f, ob) }); err != nil {
				return err
			}
			if output != "" {
				return printObject(o, output, f)
			}
			_, err = printable.Fprintf(o.streams.Out, "%s\n", s.done(f, ob))
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&regime, "regime", "", "the regulatory regime, such as uk-gdpr (default: the incident's only regime)")
	f.StringVar(&stage, "stage", "", "the regime's stage, such as notification (default: the regime's only open obligation)")
	s.flags(f)
	addOutput(cmd, &output, "the filing")
	_ = cmd.RegisterFlagCompletionFunc("regime", completeRegimes(o))
	_ = cmd.RegisterFlagCompletionFunc("stage", completeStages(o))
	return cmd
}

// getFiling reads the Filing of the obligation, saying what applies to the
// incident when the operator has not opened it.
func getFiling(ctx context.Context, c client.Client, inc *securityv1alpha1.Incident, ob securityv1alpha1.ObligationStatus) (*securityv1alpha1.Filing, error) {
	name := filing.Name(inc.Name, ob)
	f := &securityv1alpha1.Filing{}
	err := c.Get(ctx, types.NamespacedName{Namespace: inc.Namespace, Name: name}, f)
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return nil, fmt.Errorf("the operator has not opened the Filing of %s/%s for incident %s (filing %s) yet, so there is nothing to record on: %s. kubectl incident obligations %s shows each obligation and its Filing",
			ob.Regime, ob.Stage, inc.Name, name, applies(inc), inc.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading filing %s: %w", name, err)
	}
	if !f.Of(inc) {
		return nil, fmt.Errorf("filing %s belongs to an earlier incident named %s, not to this one: the operator opens this one's once that Filing is deleted", name, inc.Name)
	}
	return f, nil
}

// applies says which regimes apply to the incident, with their stages.
func applies(inc *securityv1alpha1.Incident) string {
	var regimes []string
	for _, regime := range filing.Regimes(inc) {
		var stages []string
		for _, ob := range filing.Stages(inc, regime) {
			stages = append(stages, ob.Stage)
		}
		regimes = append(regimes, fmt.Sprintf("%s (%s)", regime, strings.Join(stages, ", ")))
	}
	return "the regimes that apply to it are " + strings.Join(regimes, "; ")
}

// recordStep sends the step that patch makes from the Filing as read. The
// patch tests the Filing's generation, which every change to its spec
// raises, so when something was recorded on the Filing meanwhile it is
// refused: the Filing is then read again and the step made once more from
// what it now holds, which refuses it (the same step recorded by someone
// else) or numbers it after the other (an agreement, a letter). A second
// refusal of that kind is reported.
func recordStep(ctx context.Context, c client.Client, f *securityv1alpha1.Filing, patch func(*securityv1alpha1.Filing) ([]byte, error)) (*securityv1alpha1.Filing, error) {
	for attempt := 1; ; attempt++ {
		body, err := patch(f)
		if err != nil {
			return nil, err
		}
		read := f.Generation
		err = c.Patch(ctx, f, client.RawPatch(types.JSONPatchType, body))
		if err == nil {
			return f, nil
		}
		// The API server does not say that a JSON patch's test failed; the
		// Filing read again does.
		again := &securityv1alpha1.Filing{}
		if c.Get(ctx, client.ObjectKeyFromObject(f), again) != nil || again.Generation == read {
			return nil, fmt.Errorf("filing %s: %w", f.Name, err)
		}
		if attempt == 2 {
			return nil, fmt.Errorf("filing %s changed again while this step was being sent, so it was not recorded; run the command again: %w", f.Name, err)
		}
		f = again
	}
}

// stepDone says what was recorded on the Filing and by which account.
func stepDone(f *securityv1alpha1.Filing, what, role string, by *securityv1alpha1.Attestation) string {
	return fmt.Sprintf("filing/%s: %s/%s %s; %s by account %s", f.Name, f.Spec.Regime, f.Spec.Stage, what, role, account(by))
}

// stepRecorded refuses a step the Filing has already: each is made once.
func stepRecorded(f *securityv1alpha1.Filing, what string, by *securityv1alpha1.Attestation) error {
	return fmt.Errorf("filing %s: %s/%s is already %s by account %s, and a step cannot be changed once recorded", f.Name, f.Spec.Regime, f.Spec.Stage, what, account(by))
}

// completionIncident is the incident the command's NAME names, for
// completing its flags.
func completionIncident(o *options, cmd *cobra.Command, args []string) *securityv1alpha1.Incident {
	if len(args) == 0 {
		return nil
	}
	_, inc, err := o.incident(cmd.Context(), args[0])
	if err != nil {
		return nil
	}
	return inc
}

// completeRegimes completes --regime with the incident's regimes.
func completeRegimes(o *options) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		inc := completionIncident(o, cmd, args)
		if inc == nil {
			return nil, cobra.ShellCompDirectiveError
		}
		var out []cobra.Completion
		for _, regime := range filing.Regimes(inc) {
			if strings.HasPrefix(regime, toComplete) {
				desc := fmt.Sprintf("%d obligations", len(filing.Stages(inc, regime)))
				out = append(out, cobra.CompletionWithDesc(regime, printable.Text(desc)))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeStages completes --stage with the stages of --regime, or of
// every regime, each with its state and citation.
func completeStages(o *options) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		inc := completionIncident(o, cmd, args)
		if inc == nil {
			return nil, cobra.ShellCompDirectiveError
		}
		regime, _ := cmd.Flags().GetString("regime")
		var out []cobra.Completion
		for _, ob := range filing.Stages(inc, regime) {
			if strings.HasPrefix(ob.Stage, toComplete) {
				desc := fmt.Sprintf("%s, %s (%s)", ob.State, ob.Citation, ob.Regime)
				out = append(out, cobra.CompletionWithDesc(ob.Stage, printable.Text(desc)))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// regulatorFilingRequired refuses notify-authority for an incident that a
// regime applies to: its report to the authority is a Filing, drafted by
// one person and agreed by another before it is filed, which one person's
// word that the report was made cannot stand for.
func regulatorFilingRequired(inc *securityv1alpha1.Incident) error {
	if len(inc.Status.Obligations) == 0 {
		return nil
	}
	regime, stage := "uk-gdpr", "notification"
	for _, ob := range inc.Status.Obligations {
		if ob.Recipient == securityv1alpha1.RecipientSupervisoryAuthority {
			regime, stage = ob.Regime, ob.Stage
			break
		}
	}
	at := fmt.Sprintf("%s --regime %s --stage %s", inc.Name, regime, stage)
	return fmt.Errorf(`incident %s is under regulatory regimes (%s): its report to the authority is a filing that one person drafts and another agrees to before it is filed, so one person may no longer record it with notify-authority. Record it with:
  kubectl incident draft %s --content FIELD=TEXT ...
  kubectl incident agree %s    (as someone other than the drafter)
  kubectl incident file %s --reference REF
kubectl incident obligations %s shows what each regime asks`, inc.Name, strings.Join(filing.Regimes(inc), ", "), at, at, at, inc.Name)
}
