package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/plugin/filing"
	"github.com/incidentops/incident-operator/internal/plugin/triage"
	"github.com/incidentops/incident-operator/internal/printable"
)

func newObligationsCommand(o *options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "obligations NAME",
		Short: "What the regulatory regimes ask of an incident, stage by stage, and who recorded each step",
		Long: `What each regulatory regime that applies to an incident asks of it, stage
by stage, as the operator works it out: the provision, the recipient, how
far the stage has come, its deadline (or that the rules give none, or that
its clock has not started), whether it was missed and what is still to be
done. Under each, the steps recorded on its Filing and the account that
recorded each: the decision, the draft, the agreements, the filing, the
recipient's acknowledgement and the correspondence since.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeIncidents(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			c, inc, err := o.incident(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			var filings securityv1alpha1.FilingList
			if len(inc.Status.Obligations) > 0 {
				if err := c.List(cmd.Context(), &filings, client.InNamespace(inc.Namespace)); err != nil {
					return fmt.Errorf("listing filings: %w", err)
				}
			}
			entries := filing.Entries(inc, filings.Items)
			if output != "" {
				return printData(o, output, entries)
			}
			return writeObligations(o.streams.Out, inc, entries, o.now())
		},
	}
	addOutput(cmd, &output, "the obligations, each with its Filing")
	return cmd
}

// writeObligations prints each obligation, then the steps of its Filing.
func writeObligations(w io.Writer, inc *securityv1alpha1.Incident, entries []filing.Entry, now time.Time) error {
	if len(entries) == 0 {
		_, err := printable.Fprintf(w, "incident/%s: no regulatory regime applies to it (its status lists no obligations)\n", inc.Name)
		return err
	}
	printable.Fprintf(w, "incident/%s: %d obligations under %s\n", inc.Name, len(entries), strings.Join(filing.Regimes(inc), ", "))
	if next := inc.Status.NextObligation; next != "" {
		due := ""
		if d := inc.Status.NextObligationDeadline; d != nil {
			due = fmt.Sprintf(", due %s (%s)", d.UTC().Format(time.RFC3339), triage.Until(d.Time, now))
		}
		printable.Fprintf(w, "next: %s%s\n", next, due)
	}
	for _, e := range entries {
		ob := e.Obligation
		printable.Fprintf(w, "\n%s/%s: %s, to %s\n", ob.Regime, ob.Stage, ob.Citation, ob.Recipient)
		tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
		line := func(key, value string) { printable.Fprintf(tw, "  %s:\t%s\n", key, value) }
		line("state", string(ob.State))
		line("deadline", deadlineWords(ob, now))
		line("missed", yesNo(ob.Missed))
		if ob.Missing != "" {
			line("missing", ob.Missing)
		}
		name := filing.Name(inc.Name, ob)
		if e.Filing == nil {
			line("filing", name+", not opened by the operator yet")
		} else {
			line("filing", name)
			for _, s := range steps(e.Filing) {
				line(s[0], s[1])
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// deadlineWords says when an obligation is due, or why it has no deadline.
func deadlineWords(ob securityv1alpha1.ObligationStatus, now time.Time) string {
	switch {
	case ob.Deadline != nil && ob.Frozen:
		return ob.Deadline.UTC().Format(time.RFC3339) + " (fixed when it was filed)"
	case ob.Deadline != nil:
		return fmt.Sprintf("%s (%s)", ob.Deadline.UTC().Format(time.RFC3339), triage.Until(ob.Deadline.Time, now))
	case ob.WithoutUndueDelay:
		return "without undue delay (the rules give no fixed time)"
	case !ob.State.Open():
		return "none"
	}
	return "clock not started"
}

// steps are the steps recorded on a Filing, each as a label and what it
// says, with the account that recorded it.
func steps(f *securityv1alpha1.Filing) [][2]string {
	s := f.Spec
	var out [][2]string
	add := func(key, value string) { out = append(out, [2]string{key, value}) }
	if d := s.Decision; d != nil {
		v := string(d.Outcome)
		if d.Exemption != "" {
			v += ", exempt as " + string(d.Exemption)
		}
		if d.Rationale != "" {
			v += ": " + d.Rationale
		}
		add("decided", v+"; by "+account(d.DecidedBy))
	}
	if d := s.Draft; d != nil {
		add("drafted", fields(d.Content)+"; by "+account(d.DraftedBy))
	}
	agreements := fmt.Sprintf("%d of %d", len(s.Agreements), s.AgreementsRequired)
	for _, a := range s.Agreements {
		agreements += "; " + account(a.By)
		if a.Note != "" {
			agreements += " (" + a.Note + ")"
		}
	}
	add("agreements", agreements)
	if fl := s.Filed; fl != nil {
		v := fmt.Sprintf("%s, reference %s", fl.At.UTC().Format(time.RFC3339), fl.Reference)
		if fl.DelayReason != "" {
			v += ", delayed: " + fl.DelayReason
		}
		add("filed", v+"; by "+account(fl.By))
	}
	if a := s.Acknowledgement; a != nil {
		add("acknowledged", fmt.Sprintf("%s, case number %s; by %s", a.At.UTC().Format(time.RFC3339), a.CaseNumber, account(a.By)))
	}
	if n := len(s.Correspondence); n > 0 {
		last := s.Correspondence[n-1]
		add("correspondence", fmt.Sprintf("%d, the last %s at %s; by %s", n, last.Direction, last.At.UTC().Format(time.RFC3339), account(last.By)))
	}
	return out
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
