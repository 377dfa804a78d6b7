package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/audit"
	"github.com/incidentops/incident-operator/internal/plugin/input"
	"github.com/incidentops/incident-operator/internal/printable"
	auditrecord "github.com/incidentops/incident-operator/internal/record"
)

// trail is one subject's audit trail as stored, with its incident when
// the incident still exists.
type trail struct {
	namespace string
	subject   securityv1alpha1.AuditSubject
	segments  []securityv1alpha1.AuditTrail
	// incident is nil once the incident is deleted: its trail is then
	// sealed by its Deleted entry.
	incident *securityv1alpha1.Incident
}

func subjectOf(inc *securityv1alpha1.Incident) securityv1alpha1.AuditSubject {
	return securityv1alpha1.AuditSubject{Kind: "Incident", Name: inc.Name, UID: string(inc.UID)}
}

// readTrail reads the segments of an existing incident's trail by name.
func readTrail(ctx context.Context, c client.Client, inc *securityv1alpha1.Incident) (trail, error) {
	t := trail{namespace: inc.Namespace, subject: subjectOf(inc), incident: inc}
	for segment := int64(0); ; segment++ {
		var s securityv1alpha1.AuditTrail
		name := audit.ObjectName(t.subject, segment)
		err := c.Get(ctx, types.NamespacedName{Namespace: inc.Namespace, Name: name}, &s)
		if apierrors.IsNotFound(err) {
			return t, nil
		}
		if err != nil {
			return t, fmt.Errorf("reading audit trail %s: %w", name, err)
		}
		t.segments = append(t.segments, s)
	}
}

// deletedTrails are the trails, in namespace ns ("" for all), of incidents
// that no longer exist, optionally only those of incidents named name.
func deletedTrails(ctx context.Context, c client.Client, ns, name string, existing map[types.UID]bool) ([]trail, error) {
	var list securityv1alpha1.AuditTrailList
	if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("listing audit trails: %w", err)
	}
	bySubject := map[string]*trail{}
	var out []*trail
	for _, s := range list.Items {
		subject := s.Spec.Subject
		if existing[types.UID(subject.UID)] || (name != "" && subject.Name != name) {
			continue
		}
		key := s.Namespace + "/" + subject.UID
		t, ok := bySubject[key]
		if !ok {
			t = &trail{namespace: s.Namespace, subject: subject}
			bySubject[key] = t
			out = append(out, t)
		}
		t.segments = append(t.segments, s)
	}
	result := make([]trail, len(out))
	for i, t := range out {
		result[i] = *t
	}
	slices.SortFunc(result, func(a, b trail) int {
		return cmp.Or(cmp.Compare(a.namespace, b.namespace), cmp.Compare(a.subject.Name, b.subject.Name), cmp.Compare(a.subject.UID, b.subject.UID))
	})
	return result, nil
}

// verification is what audit verify found for one trail.
type verification struct {
	Namespace string `json:"namespace"`
	Incident  string `json:"incident"`
	UID       string `json:"uid"`
	// Deleted is true when the incident is gone and the trail must end
	// with its Deleted entry.
	Deleted           bool   `json:"deleted"`
	Entries           int    `json:"entries"`
	SignaturesChecked bool   `json:"signaturesChecked"`
	Verified          bool   `json:"verified"`
	BrokenAt          *int64 `json:"brokenAt,omitempty"`
	Problem           string `json:"problem,omitempty"`
}

func (t trail) verify(keys *audit.KeyRing) verification {
	v := verification{Namespace: t.namespace, Incident: t.subject.Name, UID: t.subject.UID, Deleted: t.incident == nil, SignaturesChecked: keys != nil}
	opts := audit.VerifyOptions{Keys: keys, Sealed: t.incident == nil}
	if t.incident != nil && t.incident.Status.Audit != nil {
		opts.Head = t.incident.Status.Audit.Head
	}
	entries, err := audit.Entries(t.segments)
	if err == nil {
		var result audit.Result
		result, err = audit.Verify(t.namespace, t.subject, entries, opts)
		v.Entries = result.Entries
	}
	var missing []string
	if err == nil && t.incident != nil {
		missing = auditrecord.Missing(t.incident, entries)
	}
	var broken *audit.BrokenError
	switch {
	case err == nil && len(missing) > 0:
		v.Problem = "the trail verifies as a chain but lacks what the incident records (cut short and its head rewound?): " + strings.Join(missing, "; ")
	case err == nil:
		v.Verified = true
	case errors.As(err, &broken):
		v.BrokenAt, v.Problem = &broken.Sequence, err.Error()
	default:
		v.Problem = err.Error()
	}
	return v
}

// headRace is a trail one entry ahead of the head its incident shows: the
// operator writes the trail before the status, so a reader can see one
// without the other for a moment.
func (v verification) headRace(t trail) bool {
	return v.BrokenAt != nil && t.incident != nil && t.incident.Status.Audit != nil && t.incident.Status.Audit.Head != nil &&
		*v.BrokenAt == t.incident.Status.Audit.Head.Sequence+1
}

func (v verification) String() string {
	who := fmt.Sprintf("%s/%s (uid %s", v.Namespace, v.Incident, short(v.UID))
	if v.Deleted {
		who += ", incident deleted"
	}
	who += ")"
	switch {
	case v.Verified && v.Entries == 0:
		return who + ": no entries yet"
	case v.Verified && v.Deleted:
		return fmt.Sprintf("%s: verified, %d entries, sealed by its Deleted entry", who, v.Entries)
	case v.Verified:
		return fmt.Sprintf("%s: verified, %d entries, ending at the incident's status.audit.head", who, v.Entries)
	}
	return fmt.Sprintf("%s: BROKEN: %s", who, v.Problem)
}

func short(uid string) string {
	if len(uid) > 8 {
		return uid[:8]
	}
	return uid
}

func newAuditCommand(o *options) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Check incidents' audit trails"}
	var all bool
	var keyFile, output string
	verify := &cobra.Command{
		Use:   "verify [NAME | --all] [-A] [--key-file FILE]",
		Short: "Verify that audit trails are whole: hashes, links, the head in status, and with --key-file the signatures",
		Long: `Verify incidents' audit trails: every entry's hash, the chain of hashes, and
that the trail ends at the head the incident keeps in status.audit.head (or,
for a deleted incident, with its Deleted entry). Exit status 0 when every
trail verifies; otherwise 1, naming the incident and its first broken entry.

Without --key-file the signatures are not checked: that finds an edit by
someone who did not recompute the chain, not a chain recomputed by someone
who can write the trail. --key-file takes the operator's signing keys as
id=hexsecret lines, or the Secret as kubectl get secret -o yaml prints it.`,
		ValidArgsFunction: completeIncidents(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if (len(args) == 1) == all || len(args) > 1 {
				return fmt.Errorf("give one incident NAME, or --all")
			}
			var keys *audit.KeyRing
			if keyFile != "" {
				data, err := os.ReadFile(keyFile)
				if err != nil {
					return fmt.Errorf("--key-file: %w", err)
				}
				if keys, err = input.KeyRing(data); err != nil {
					return fmt.Errorf("--key-file %s: %w", keyFile, err)
				}
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			results, err := verifyTrails(cmd.Context(), o, name, keys)
			if err != nil {
				return err
			}
			if output != "" {
				if err := printData(o, output, results); err != nil {
					return err
				}
			} else {
				writeVerifications(o.streams.Out, results, keys)
			}
			return brokenError(results)
		},
	}
	verify.Flags().BoolVar(&all, "all", false, "verify every incident's trail, and the trails of deleted incidents")
	verify.Flags().StringVar(&keyFile, "key-file", "", "the signing keys: id=hexsecret lines, or the Secret's YAML")
	addOutput(verify, &output, "the results")
	o.addAllNamespaces(verify, "verify trails (with --all)")
	cmd.AddCommand(verify)
	return cmd
}

// verifyTrails finds and verifies the trails asked for.
func verifyTrails(ctx context.Context, o *options, name string, keys *audit.KeyRing) ([]verification, error) {
	c, ns, err := o.connect()
	if err != nil {
		return nil, err
	}
	if name != "" && ns == "" {
		return nil, fmt.Errorf("-A is for --all: give the incident's namespace with -n")
	}
	trails, err := findTrails(ctx, c, ns, name)
	if err != nil {
		return nil, err
	}
	results := make([]verification, len(trails))
	for i, t := range trails {
		results[i] = t.verify(keys)
		if results[i].headRace(t) {
			// Read both again once the operator has had time to write
			// the status after the trail.
			time.Sleep(time.Second)
			if fresh, err := getIncident(ctx, c, t.namespace, t.subject.Name); err == nil && fresh.UID == t.incident.UID {
				if again, err := readTrail(ctx, c, fresh); err == nil {
					results[i] = again.verify(keys)
				}
			}
		}
	}
	return results, nil
}

// findTrails are the trails of the incident name (and of deleted
// incidents of that name), or with name "" of every incident in ns and
// every deleted one.
func findTrails(ctx context.Context, c client.Client, ns, name string) ([]trail, error) {
	var incidents []securityv1alpha1.Incident
	if name != "" {
		inc := &securityv1alpha1.Incident{}
		err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, inc)
		switch {
		case err == nil:
			incidents = append(incidents, *inc)
		case !apierrors.IsNotFound(err):
			return nil, fmt.Errorf("reading incident %s: %w", name, err)
		}
	} else {
		var list securityv1alpha1.IncidentList
		if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return nil, fmt.Errorf("listing incidents: %w", err)
		}
		incidents = list.Items
	}
	existing := map[types.UID]bool{}
	var trails []trail
	for i := range incidents {
		existing[incidents[i].UID] = true
		t, err := readTrail(ctx, c, &incidents[i])
		if err != nil {
			return nil, err
		}
		trails = append(trails, t)
	}
	deleted, err := deletedTrails(ctx, c, ns, name, existing)
	if err != nil {
		return nil, err
	}
	trails = append(trails, deleted...)
	if name != "" && len(trails) == 0 {
		return nil, fmt.Errorf("there is no incident %q in namespace %q, and no audit trail of one", name, ns)
	}
	return trails, nil
}

func writeVerifications(w io.Writer, results []verification, keys *audit.KeyRing) {
	for _, v := range results {
		printable.Fprintf(w, "%s\n", v)
	}
	if keys != nil {
		fmt.Fprintf(w, "Signatures were checked, with the %s.\n", keys)
		return
	}
	fmt.Fprintln(w, "Signatures were NOT checked (no --key-file): hashes, links and heads only, which do not show a chain recomputed by someone who can write the trail.")
}

// brokenError names each trail that does not verify, or is nil.
func brokenError(results []verification) error {
	var broken []string
	for _, v := range results {
		if !v.Verified {
			broken = append(broken, fmt.Sprintf("%s/%s: %s", v.Namespace, v.Incident, v.Problem))
		}
	}
	if len(broken) == 0 {
		return nil
	}
	return fmt.Errorf("%d audit trail(s) do not verify:\n  %s", len(broken), strings.Join(broken, "\n  "))
}
