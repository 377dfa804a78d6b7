package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/plugin/triage"
	"github.com/incidentops/incident-operator/internal/printable"
)

func newListCommand(o *options) *cobra.Command {
	var filter triage.Filter
	var output string
	cmd := &cobra.Command{
		Use:   "list [--open] [--at-risk] [--breached] [--major] [--awaiting-authority] [-A]",
		Short: "List incidents, most urgent first, with the deadline that matters next",
		Long: `List incidents, most urgent first: missed deadlines, then the soonest
deadlines, then incidents with none left. The deadline shown is the one that
matters next: acknowledge-by and resolve-by (the SLA), authority-by (telling
the supervisory authority of a personal data breach), or next-escalation
(when a policy tells its next level unless someone acknowledges first).
BREACHED marks a deadline that passed unmet. Every filter given must hold.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			c, ns, err := o.connect()
			if err != nil {
				return err
			}
			var all securityv1alpha1.IncidentList
			if err := c.List(cmd.Context(), &all, client.InNamespace(ns)); err != nil {
				return fmt.Errorf("listing incidents: %w", err)
			}
			now := o.now()
			var kept []securityv1alpha1.Incident
			for i := range all.Items {
				if filter.Keep(&all.Items[i], now) {
					kept = append(kept, all.Items[i])
				}
			}
			items := triage.Sort(kept, now)
			if output != "" {
				out := &securityv1alpha1.IncidentList{}
				for _, it := range items {
					out.Items = append(out.Items, *it.Incident)
				}
				return printObject(o, output, out)
			}
			if len(items) == 0 {
				where := "namespace " + ns
				if ns == "" {
					where = "any namespace"
				}
				_, err := fmt.Fprintf(o.streams.Out, "No incidents in %s match.\n", where)
				return err
			}
			return writeList(o, items, now)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&filter.Open, "open", false, "only incidents not resolved")
	f.BoolVar(&filter.AtRisk, "at-risk", false, "only incidents whose SLA deadline is near (SLAAtRisk)")
	f.BoolVar(&filter.Breached, "breached", false, "only incidents that missed an SLA target or the authority deadline")
	f.BoolVar(&filter.Major, "major", false, "only major incidents")
	f.BoolVar(&filter.AwaitingAuthority, "awaiting-authority", false, "only personal data breaches not yet reported to the supervisory authority")
	addOutput(cmd, &output, "the incidents")
	o.addAllNamespaces(cmd, "list incidents")
	return cmd
}

func writeList(o *options, items []triage.Item, now time.Time) error {
	tw := tabwriter.NewWriter(o.streams.Out, 0, 4, 2, ' ', 0)
	if o.allNamespaces {
		fmt.Fprint(tw, "NAMESPACE\t")
	}
	fmt.Fprintln(tw, "NAME\tSEVERITY\tCATEGORY\tPHASE\tLEVEL\tNEXT DEADLINE\tDUE\tTITLE")
	for _, it := range items {
		inc := it.Incident
		deadline, due := "-", "-"
		if it.HasNext {
			deadline = it.Next.String()
			due = triage.Until(it.Next.At, now)
			if it.Next.Breached {
				due = "BREACHED " + due
			}
		}
		phase := string(inc.Status.Phase)
		if phase == "" {
			phase = string(securityv1alpha1.PhasePending)
		}
		if o.allNamespaces {
			printable.Fprintf(tw, "%s\t", inc.Namespace)
		}
		printable.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", inc.Name, inc.Spec.Severity, inc.Spec.Category, phase, inc.Status.EscalationLevel, deadline, due, inc.Spec.Title)
	}
	return tw.Flush()
}
