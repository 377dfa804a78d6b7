package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/plugin/input"

	"github.com/incidentops/incident-operator/internal/policytest"
	"github.com/incidentops/incident-operator/internal/printable"
	"github.com/incidentops/incident-operator/internal/routing/gather"
)

// errCasesFailed is what the command returns when a case failed: its
// output has said which and why.
var errCasesFailed = errors.New("policy tests failed")

func newTestCommand(o *options) *cobra.Command {
	var (
		junit  string
		update bool
		replay string
	)
	cmd := &cobra.Command{
		Use:   "test -f POLICIES... [-f CASES...]",
		Short: "Test policies before they are applied: who is told, when, and by which policy",
		Long: `test runs cases (kind PolicyTest) against policy files, offline, with the
operator's own routing and lifecycle on a clock that jumps from one wake to
the next: a week of escalation takes milliseconds and every run gives the
same answer. It needs no cluster.

-f takes files or directories of EscalationPolicies, ClusterEscalationPolicies,
Assets and Departments, and the case files; each object is defaulted and
validated as the API server would, and each policy checked as the operator
does, so a policy the cluster would refuse or leave out fails here, naming
the field.

A case is an incident with its namespace's labels, a script of what people
do and when, and what must happen: the policies in routing order, who is
told at which level and at what time, the SLA and authority deadlines, and
conditions. Each case prints PASS or FAIL with the difference; the command
exits 1 when any fails. --junit writes a JUnit report for CI. A case file's
timelines (who is told when) are kept beside it as NAME.timeline when
--update writes them; once kept, a change to them fails the case until
--update accepts it, so that a reviewer reads the change in a pull request.`,
		Example: `  kubectl incident test -f config/samples -f config/samples/tests
  kubectl incident test -f policies/ -f tests/ --junit report.xml
  kubectl incident test -f policies/ -f tests/ --update
  kubectl incident test -f policies/ --replay 90d -A`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			paths, _ := cmd.Flags().GetStringSlice("filename")
			if len(paths) == 0 {
				return errors.New("-f: give the policy files and the case files, or directories of them")
			}
			objects, files, err := policytest.Load(paths)
			if err != nil {
				return err
			}
			if replay != "" {
				return replayIncidents(cmd.Context(), o, objects, replay)
			}
			if len(files) == 0 {
				return fmt.Errorf("-f: no PolicyTest among %s: nothing to run", strings.Join(paths, ", "))
			}
			results := policytest.RunAll(cmd.Context(), objects, files)
			if err := policytest.CheckGolden(results, update); err != nil {
				return err
			}
			failed := writeResults(o.streams.Out, results)
			invariants, from := policytest.Invariants(files)
			var verdicts []policytest.Verdict
			if len(invariants) > 0 {
				var space *policytest.Space
				var took time.Duration
				verdicts, space, took = policytest.Check(objects, invariants, from)
				failed += writeVerdicts(o.streams.Out, verdicts, space, took)
			}
			if junit != "" {
				if err := writeJUnit(junit, results, verdicts); err != nil {
					return err
				}
			}
			if failed > 0 {
				return fmt.Errorf("%w: %d of %d cases and invariants", errCasesFailed, failed, len(results)+len(verdicts))
			}
			return nil
		},
	}
	cmd.Flags().StringSliceP("filename", "f", nil, "policy files, case files, or directories of them (repeatable)")
	cmd.Flags().StringVar(&junit, "junit", "", "write a JUnit XML report to this file")
	cmd.Flags().BoolVar(&update, "update", false, "write each case file's timelines beside it (NAME.timeline)")
	cmd.Flags().StringVar(&replay, "replay", "", "run the incidents stored in the cluster and reported in this period (90d, 2w, 24h) through the policy files, and print who would have been told, not told, or told later; exits 1 when someone told before would not be")
	o.addAllNamespaces(cmd, "replay incidents")
	return cmd
}

// errRecipientDropped is what --replay returns when the proposed policies
// would not tell someone a stored incident told.
var errRecipientDropped = errors.New("the proposed policies would not tell someone a past incident told")

// replayIncidents runs the stored incidents of the period through the
// proposed policies, with their namespace's labels, Assets and
// Departments as the cluster holds them now (the files' win), and prints
// what would change for each.
func replayIncidents(ctx context.Context, o *options, proposed *policytest.Objects, period string) error {
	age, err := input.Age("replay", period)
	if err != nil {
		return err
	}
	c, ns, err := o.connect()
	if err != nil {
		return err
	}
	var list securityv1alpha1.IncidentList
	if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("listing incidents: %w", err)
	}
	now := o.now()
	from := now.Add(-age)
	objectsOf := map[string]*policytest.Objects{}
	labelsOf := map[string]map[string]string{}
	replayed, changed, dropped := 0, 0, 0
	for i := range list.Items {
		inc := &list.Items[i]
		if inc.ReportedAt().Before(from) {
			continue
		}
		objects, ok := objectsOf[inc.Namespace]
		if !ok {
			if labelsOf[inc.Namespace], err = gather.Labels(ctx, c, inc.Namespace); err != nil {
				return err
			}
			if objects, err = withClusterObjects(ctx, c, inc.Namespace, proposed); err != nil {
				return err
			}
			objectsOf[inc.Namespace] = objects
		}
		r := policytest.Replay(ctx, objects, inc, labelsOf[inc.Namespace], now)
		replayed++
		switch {
		case r.Err != nil:
			return fmt.Errorf("replaying %s/%s: %w", inc.Namespace, inc.Name, r.Err)
		case len(r.Changes) == 0:
			continue
		}
		changed++
		printable.Fprintf(o.streams.Out, "%s/%s (reported %s): routed to %s, would be routed to %s\n", inc.Namespace, inc.Name,
			inc.ReportedAt().UTC().Format(time.RFC3339), strings.Join(r.Was, ", "), strings.Join(r.Would, ", "))
		for _, ch := range r.Changes {
			if ch.Dropped() {
				dropped++
			}
			printable.Fprintf(o.streams.Out, "  %s\n", ch)
		}
	}
	fmt.Fprintf(o.streams.Out, "%d incidents reported since %s replayed: %d would change, %d recipients would not be told\n",
		replayed, from.UTC().Format(time.RFC3339), changed, dropped)
	if dropped > 0 {
		return errRecipientDropped
	}
	return nil
}

// withClusterObjects is the proposed policies with the namespace's Assets
// and Departments as the cluster holds them, those of the files winning.
func withClusterObjects(ctx context.Context, c client.Client, ns string, proposed *policytest.Objects) (*policytest.Objects, error) {
	out := *proposed
	var assets securityv1alpha1.AssetList
	if err := c.List(ctx, &assets, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("listing the Assets of %s, which policies may match on: %w", ns, err)
	}
	var departments securityv1alpha1.DepartmentList
	if err := c.List(ctx, &departments, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("listing the Departments of %s, for managers and deputies: %w", ns, err)
	}
	out.Assets = slices.Clone(proposed.Assets)
	for i := range assets.Items {
		if !slices.ContainsFunc(proposed.Assets, func(a *securityv1alpha1.Asset) bool { return a.Name == assets.Items[i].Name }) {
			out.Assets = append(out.Assets, &assets.Items[i])
		}
	}
	out.Departments = slices.Clone(proposed.Departments)
	for i := range departments.Items {
		if !slices.ContainsFunc(proposed.Departments, func(d *securityv1alpha1.Department) bool { return d.Name == departments.Items[i].Name }) {
			out.Departments = append(out.Departments, &departments.Items[i])
		}
	}
	return &out, nil
}

// writeResults prints PASS or FAIL a case, with the differences, and
// returns how many failed.
func writeResults(w io.Writer, results []policytest.Result) int {
	failed := 0
	for _, r := range results {
		if r.Passed() {
			printable.Fprintf(w, "PASS  %s\n", r.Case.Name)
			continue
		}
		failed++
		printable.Fprintf(w, "FAIL  %s (%s)\n", r.Case.Name, r.File)
		if r.Err != nil {
			printable.Fprintf(w, "      cannot run: %s\n", r.Err)
		}
		for _, d := range r.Differences {
			for _, line := range strings.Split(d, "\n") {
				printable.Fprintf(w, "      %s\n", line)
			}
		}
	}
	fmt.Fprintf(w, "%d passed, %d failed\n", len(results)-failed, failed)
	return failed
}

// writeVerdicts prints whether each invariant holds, with its
// counterexample when not, and the size of the space; it returns how many
// are broken.
func writeVerdicts(w io.Writer, verdicts []policytest.Verdict, space *policytest.Space, took time.Duration) int {
	broken := 0
	for _, v := range verdicts {
		switch {
		case v.Err != nil:
			broken++
			printable.Fprintf(w, "FAIL  invariant: %s (%s)\n      cannot check: %s\n", v.Invariant.Name, v.File, v.Err)
		case v.Counterexample != "":
			broken++
			printable.Fprintf(w, "FAIL  invariant: %s (%s)\n", v.Invariant.Name, v.File)
			for _, line := range strings.Split(v.Counterexample, "\n") {
				printable.Fprintf(w, "      %s\n", line)
			}
		default:
			printable.Fprintf(w, "PASS  invariant: %s (%d incidents)\n", v.Invariant.Name, v.Incidents)
		}
	}
	fmt.Fprintf(w, "%d invariants over %d incidents the policies tell apart, checked in %s\n", len(verdicts), space.Size(), took.Round(time.Millisecond))
	return broken
}

func writeJUnit(path string, results []policytest.Result, verdicts []policytest.Verdict) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := policytest.JUnit(f, results, verdicts); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
