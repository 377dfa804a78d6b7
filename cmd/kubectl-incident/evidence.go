package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/custody"
	"github.com/incidentops/incident-operator/internal/plugin/input"
	"github.com/incidentops/incident-operator/internal/plugin/patch"
	"github.com/incidentops/incident-operator/internal/printable"
)

// evidenceKinds are the values of Evidence spec.kind.
var evidenceKinds = []securityv1alpha1.EvidenceKind{
	securityv1alpha1.EvidenceDevice,
	securityv1alpha1.EvidenceDiskImage,
	securityv1alpha1.EvidenceFile,
	securityv1alpha1.EvidenceLog,
	securityv1alpha1.EvidenceDocument,
	securityv1alpha1.EvidencePaperRecord,
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

func newEvidenceCommand(o *options) *cobra.Command {
	cmd := &cobra.Command{Use: "evidence", Short: "Record evidence, its chain of custody, and check a copy against it"}
	cmd.AddCommand(newEvidenceAddCommand(o), newEvidenceTransferCommand(o), newEvidenceVerifyCommand(o), newEvidenceListCommand(o))
	return cmd
}

type evidenceAdd struct {
	kind, description, location, file, sha, collectedAt, name, output string
}

func newEvidenceAddCommand(o *options) *cobra.Command {
	a := &evidenceAdd{}
	cmd := &cobra.Command{
		Use:   "add INCIDENT --kind KIND --description TEXT --storage-location WHERE [--file F | --sha256 HEX]",
		Short: "Record an item of evidence collected for an incident; --file computes its SHA-256",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(a.output); err != nil {
				return err
			}
			c, ns, err := o.connect()
			if err != nil {
				return err
			}
			ev, err := a.evidence(ns, args[0], o.now())
			if err != nil {
				return err
			}
			if _, err := getIncident(cmd.Context(), c, ns, args[0]); err != nil {
				return err
			}
			if err := c.Create(cmd.Context(), ev); err != nil {
				return fmt.Errorf("recording the evidence: %w", err)
			}
			if a.output != "" {
				return printObject(o, a.output, ev)
			}
			sha := ev.Spec.SHA256
			if sha == "" {
				sha = "none"
			}
			_, err = printable.Fprintf(o.streams.Out, "evidence/%s recorded for incident %s: %s \"%s\", kept at %s, SHA-256 %s; collected by account %s\n",
				ev.Name, ev.Spec.Incident, ev.Spec.Kind, ev.Spec.Description, ev.Spec.StorageLocation, sha, account(ev.Spec.CollectedBy))
			return err
		},
		ValidArgsFunction: completeIncidents(o),
	}
	f := cmd.Flags()
	f.StringVar(&a.kind, "kind", "", "what it is: "+list(evidenceKinds))
	f.StringVar(&a.description, "description", "", "what the item is, such as a make, model and serial number (required)")
	f.StringVar(&a.location, "storage-location", "", "where the item is kept (required)")
	f.StringVar(&a.file, "file", "", "a copy of the item: its SHA-256 is computed and recorded")
	f.StringVar(&a.sha, "sha256", "", "the item's SHA-256 in hex, when the copy is not here")
	f.StringVar(&a.collectedAt, "collected-at", "now", "when it was collected (2026-11-20 10:30, in your time zone, or RFC 3339)")
	f.StringVar(&a.name, "name", "", "the evidence's name (default: made from the incident's)")
	addOutput(cmd, &a.output, "the evidence")
	_ = cmd.RegisterFlagCompletionFunc("kind", fixedCompletion(evidenceKinds))
	return cmd
}

// evidence checks the flags and makes the Evidence to create.
func (a *evidenceAdd) evidence(ns, incident string, now time.Time) (*securityv1alpha1.Evidence, error) {
	kind, err := input.Enum("kind", a.kind, evidenceKinds)
	if err != nil {
		return nil, err
	}
	switch {
	case strings.TrimSpace(a.description) == "":
		return nil, fmt.Errorf("--description is required: what the item is, such as a make, model and serial number")
	case strings.TrimSpace(a.location) == "":
		return nil, fmt.Errorf("--storage-location is required: where the item is kept")
	case a.file != "" && a.sha != "":
		return nil, fmt.Errorf("give --file or --sha256, not both")
	}
	sha := strings.ToLower(strings.TrimSpace(a.sha))
	if a.file != "" {
		f, err := os.Open(a.file)
		if err != nil {
			return nil, fmt.Errorf("--file: %w", err)
		}
		defer f.Close()
		if sha, err = custody.Digest(f); err != nil {
			return nil, fmt.Errorf("--file %s: %w", a.file, err)
		}
	}
	if sha != "" && !sha256Hex.MatchString(sha) {
		return nil, fmt.Errorf("--sha256 %q is not a SHA-256: 64 hex digits", a.sha)
	}
	if kind.Digital() && sha == "" {
		return nil, fmt.Errorf("%s evidence needs its SHA-256: give --file (a copy, whose SHA-256 is computed) or --sha256", kind)
	}
	collected, err := input.Time("collected-at", a.collectedAt, time.Local, now)
	if err != nil {
		return nil, err
	}
	ev := &securityv1alpha1.Evidence{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: a.name},
		Spec: securityv1alpha1.EvidenceSpec{
			Incident: incident, Kind: kind, Description: a.description, SHA256: sha,
			StorageLocation: a.location, CollectedAt: metav1.NewTime(collected),
		},
	}
	if ev.Name == "" {
		ev.GenerateName = incident + "-" + strings.ToLower(string(kind)) + "-"
	}
	return ev, nil
}

func newEvidenceTransferCommand(o *options) *cobra.Command {
	var to, from, reason, at, location, output string
	cmd := &cobra.Command{
		Use:   "transfer EVIDENCE --to WHO --reason TEXT [--from WHO] [--at TIME] [--storage-location WHERE]",
		Short: "Record that an item of evidence changed hands",
		Long: `Record that an item of evidence changed hands: one transfer, appended after
the last with the next sequence. --from defaults to whoever holds the item
now. If someone else records a transfer of the same item at the same moment,
one of the two is refused rather than both taking the same place; run the
command again.`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeEvidence(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			switch {
			case strings.TrimSpace(to) == "":
				return fmt.Errorf("--to is required: who receives the item")
			case strings.TrimSpace(reason) == "":
				return fmt.Errorf("--reason is required: why the item changes hands")
			}
			when, err := input.Time("at", at, time.Local, o.now())
			if err != nil {
				return err
			}
			c, ns, err := o.connect()
			if err != nil {
				return err
			}
			ev, err := transfer(cmd.Context(), c, types.NamespacedName{Namespace: ns, Name: args[0]}, securityv1alpha1.CustodyTransfer{
				From: from, To: to, Reason: reason, At: metav1.NewTime(when), StorageLocation: location,
			})
			if err != nil {
				return err
			}
			if output != "" {
				return printObject(o, output, ev)
			}
			t := custody.Transfers(ev)
			last := t[len(t)-1]
			_, err = printable.Fprintf(o.streams.Out, "evidence/%s: transfer %d from %s to %s at %s (%s); recorded by account %s\n",
				ev.Name, last.Sequence, last.From, last.To, last.At.Format(time.RFC3339), last.Reason, account(last.AttestedBy))
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&to, "to", "", "who receives the item (required)")
	f.StringVar(&from, "from", "", "who hands it over (default: who holds it now, the last transfer's recipient or the collector)")
	f.StringVar(&reason, "reason", "", "why it changes hands (required)")
	f.StringVar(&at, "at", "now", "when it changed hands (2026-11-21 09:00, in your time zone, or RFC 3339)")
	f.StringVar(&location, "storage-location", "", "where it is kept afterwards, when that changes")
	addOutput(cmd, &output, "the evidence")
	return cmd
}

// transfer appends t to the evidence's custody with the next sequence,
// from the holder when t names nobody.
func transfer(ctx context.Context, c client.Client, key types.NamespacedName, t securityv1alpha1.CustodyTransfer) (*securityv1alpha1.Evidence, error) {
	// Read as stored, so that the patch tests the list exactly as the API
	// server holds it.
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(securityv1alpha1.GroupVersion.WithKind("Evidence"))
	if err := c.Get(ctx, key, u); err != nil {
		if meta.IsNoMatchError(err) || client.IgnoreNotFound(err) == nil {
			return nil, fmt.Errorf("there is no evidence %q in namespace %q: kubectl incident evidence list INCIDENT shows an incident's evidence", key.Name, key.Namespace)
		}
		return nil, fmt.Errorf("reading evidence %s: %w", key.Name, err)
	}
	ev := &securityv1alpha1.Evidence{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, ev); err != nil {
		return nil, err
	}
	current, _, _ := unstructured.NestedSlice(u.Object, "spec", "custody")
	t.Sequence = int32(len(current))
	if t.From == "" {
		// The holder by the custody as stored: status.holder says the same
		// once the operator has seen the last transfer, which may be a
		// moment after it was recorded.
		t.From = custody.Holder(ev)
		if t.From == "" {
			t.From = ev.Status.Holder
		}
		if t.From == "" {
			return nil, fmt.Errorf("evidence %s has no holder on record: say who hands it over with --from", key.Name)
		}
	}
	body, err := patch.Transfer(current, t)
	if err != nil {
		return nil, err
	}
	if err := c.Patch(ctx, ev, client.RawPatch(types.JSONPatchType, body)); err != nil {
		// The API server does not say why a JSON patch's test failed;
		// the custody read again does.
		again := &securityv1alpha1.Evidence{}
		if c.Get(ctx, key, again) == nil && len(again.Spec.Custody) != len(current) {
			return nil, fmt.Errorf("evidence %s: another transfer was recorded while this one was being sent, so this one was not; run the command again: %w", key.Name, err)
		}
		return nil, fmt.Errorf("evidence %s: %w", key.Name, err)
	}
	return ev, nil
}

func newEvidenceVerifyCommand(o *options) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:               "verify EVIDENCE --file F",
		Short:             "Check that a copy is the item recorded: its SHA-256 must match",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeEvidence(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return fmt.Errorf("--file is required: the copy to check")
			}
			c, ns, err := o.connect()
			if err != nil {
				return err
			}
			ev := &securityv1alpha1.Evidence{}
			if err := c.Get(cmd.Context(), types.NamespacedName{Namespace: ns, Name: args[0]}, ev); err != nil {
				return fmt.Errorf("reading evidence %s: %w", args[0], err)
			}
			f, err := os.Open(file)
			if err != nil {
				return fmt.Errorf("--file: %w", err)
			}
			defer f.Close()
			if err := custody.VerifyDigest(ev, f); err != nil {
				return fmt.Errorf("evidence %s, file %s: %w", ev.Name, file, err)
			}
			_, err = printable.Fprintf(o.streams.Out, "evidence/%s: %s matches the recorded SHA-256 %s\n", ev.Name, file, ev.Spec.SHA256)
			return err
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "the copy to check (required)")
	return cmd
}

func newEvidenceListCommand(o *options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:               "list INCIDENT",
		Short:             "List an incident's evidence, who holds each item and how often it changed hands",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeIncidents(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			c, ns, err := o.connect()
			if err != nil {
				return err
			}
			var all securityv1alpha1.EvidenceList
			if err := c.List(cmd.Context(), &all, client.InNamespace(ns)); err != nil {
				return fmt.Errorf("listing evidence: %w", err)
			}
			items := &securityv1alpha1.EvidenceList{}
			for _, ev := range all.Items {
				if ev.Spec.Incident == args[0] {
					items.Items = append(items.Items, ev)
				}
			}
			if output != "" {
				return printObject(o, output, items)
			}
			if len(items.Items) == 0 {
				_, err := printable.Fprintf(o.streams.Out, "No evidence recorded for incident %s in namespace %s.\n", args[0], ns)
				return err
			}
			tw := tabwriter.NewWriter(o.streams.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tKIND\tHOLDER\tTRANSFERS\tCOLLECTED BY\tCOLLECTED AT\tSHA256\tREADY\tDESCRIPTION")
			for _, ev := range items.Items {
				sha := ev.Spec.SHA256
				if len(sha) > 12 {
					sha = sha[:12] + "…"
				}
				ready := "-"
				if c := meta.FindStatusCondition(ev.Status.Conditions, securityv1alpha1.ConditionReady); c != nil {
					ready = string(c.Status)
					if c.Status != metav1.ConditionTrue {
						ready += " (" + c.Reason + ")"
					}
				}
				holder := ev.Status.Holder
				if holder == "" {
					holder = custody.Holder(&ev)
				}
				printable.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", ev.Name, ev.Spec.Kind, holder, len(ev.Spec.Custody),
					account(ev.Spec.CollectedBy), ev.Spec.CollectedAt.Format(time.RFC3339), sha, ready, ev.Spec.Description)
			}
			return tw.Flush()
		},
	}
	addOutput(cmd, &output, "the evidence")
	return cmd
}
