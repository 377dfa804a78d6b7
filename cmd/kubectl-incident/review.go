package main

// The review of a scheduled report's runs (STW 5.1: the manager reviews the
// control document every week): list the runs and sign one off. The
// sign-off is appended to spec.signOffs; the API server writes the
// reviewer's account into it.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/printable"
)

func newReviewCommand(o *options) *cobra.Command {
	review := &cobra.Command{Use: "review", Short: "Review the runs of a scheduled IncidentReport"}
	review.AddCommand(newReviewListCommand(o), newSignOffCommand(o))
	return review
}

func newReviewListCommand(o *options) *cobra.Command {
	return &cobra.Command{
		Use:               "list REPORT",
		Short:             "List a report's runs, with when each is due for review and who signed it off",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeReports(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, rep, err := o.incidentReport(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(o.streams.Out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "RUN\tFROM\tTO\tINCIDENTS\tREVIEW DUE\tSIGNED OFF BY")
			for _, run := range rep.Status.Runs {
				due, by := "-", "-"
				if run.ReviewDueAt != nil {
					due = run.ReviewDueAt.UTC().Format(time.RFC3339)
				}
				if run.SignedOffBy != nil {
					by = run.SignedOffBy.Username
				}
				printable.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\n", run.ID, run.From.UTC().Format(time.RFC3339), run.To.UTC().Format(time.RFC3339), run.Incidents, due, by)
			}
			return w.Flush()
		},
	}
}

func newSignOffCommand(o *options) *cobra.Command {
	var run, note string
	cmd := &cobra.Command{
		Use:   "sign-off REPORT [--run ID] [--note TEXT]",
		Short: "Sign off a report's run as reviewed (default: the latest run not signed off)",
		Long: `Sign off a run of an IncidentReport as reviewed. The API server records
the account that signs off; a run not signed off within the report's
reviewWithin is escalated to its reviewEscalation receivers.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeReports(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, rep, err := o.incidentReport(ctx, args[0])
			if err != nil {
				return err
			}
			if run == "" {
				if run = latestUnsigned(rep); run == "" {
					return fmt.Errorf("incidentreport %s has no run waiting for sign-off (kubectl incident review list %s)", rep.Name, rep.Name)
				}
			}
			body, err := signOffPatch(rep, run, note)
			if err != nil {
				return err
			}
			if err := c.Patch(ctx, rep, client.RawPatch(types.JSONPatchType, body)); err != nil {
				return fmt.Errorf("incidentreport %s: %w", rep.Name, err)
			}
			for _, s := range rep.Spec.SignOffs {
				if s.Run == run && s.By != nil {
					_, err = printable.Fprintf(o.streams.Out, "incidentreport/%s run %s signed off; attested account: %s\n", rep.Name, run, s.By.Username)
					return err
				}
			}
			_, err = printable.Fprintf(o.streams.Out, "incidentreport/%s run %s signed off\n", rep.Name, run)
			return err
		},
	}
	cmd.Flags().StringVar(&run, "run", "", "the run to sign off, as `kubectl incident review list` shows it")
	cmd.Flags().StringVar(&note, "note", "", "what you checked, what you asked for")
	return cmd
}

// latestUnsigned is the newest run that nobody signed off.
func latestUnsigned(rep *securityv1alpha1.IncidentReport) string {
	runs := slices.Clone(rep.Status.Runs)
	slices.SortFunc(runs, func(a, b securityv1alpha1.ReportRun) int { return b.To.Compare(a.To.Time) })
	for _, r := range runs {
		if r.SignedOffBy == nil && !slices.ContainsFunc(rep.Spec.SignOffs, func(s securityv1alpha1.ReportSignOff) bool { return s.Run == r.ID }) {
			return r.ID
		}
	}
	return ""
}

// signOffPatch appends the sign-off; the test of the list's length as
// read makes a concurrent sign-off fail instead of being overwritten.
func signOffPatch(rep *securityv1alpha1.IncidentReport, run, note string) ([]byte, error) {
	if slices.ContainsFunc(rep.Spec.SignOffs, func(s securityv1alpha1.ReportSignOff) bool { return s.Run == run }) {
		return nil, fmt.Errorf("incidentreport %s: run %s is already signed off", rep.Name, run)
	}
	entry := securityv1alpha1.ReportSignOff{Run: run, Note: note}
	if len(rep.Spec.SignOffs) == 0 {
		return json.Marshal([]map[string]any{{"op": "add", "path": "/spec/signOffs", "value": []securityv1alpha1.ReportSignOff{entry}}})
	}
	return json.Marshal([]map[string]any{
		{"op": "test", "path": "/spec/signOffs", "value": rep.Spec.SignOffs},
		{"op": "add", "path": "/spec/signOffs/-", "value": entry},
	})
}

// incidentReport connects and reads the report name of the namespace.
func (o *options) incidentReport(ctx context.Context, name string) (client.Client, *securityv1alpha1.IncidentReport, error) {
	c, ns, err := o.connect()
	if err != nil {
		return nil, nil, err
	}
	rep := &securityv1alpha1.IncidentReport{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, rep); err != nil {
		return nil, nil, fmt.Errorf("incidentreport %s: %w", name, err)
	}
	return c, rep, nil
}

// completeReports completes a REPORT argument.
func completeReports(o *options) cobra.CompletionFunc {
	return completeNames(o, func(ctx context.Context, c client.Client, ns string) (map[string]string, error) {
		var list securityv1alpha1.IncidentReportList
		err := c.List(ctx, &list, client.InNamespace(ns))
		names := map[string]string{}
		for _, r := range list.Items {
			names[r.Name] = string(r.Spec.Report)
		}
		return names, err
	})
}
