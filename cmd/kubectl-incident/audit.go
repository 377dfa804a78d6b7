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
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/audit"
	"github.com/incidentops/incident-operator/internal/plugin/input"
	"github.com/incidentops/incident-operator/internal/printable"
	auditrecord "github.com/incidentops/incident-operator/internal/record"
	"github.com/incidentops/incident-operator/internal/translog"
)

// trail is one subject's audit trail as stored, with its incident when
// the incident still exists.
type trail struct {
	namespace string
	subject   securityv1alpha1.AuditSubject
	segments  []securityv1alpha1.AuditTrail
	// incident is nil once the incident is deleted: its record then ends
	// with its Deleted entry.
	incident *securityv1alpha1.Incident
	// log is the incident's namespace's audit log, which holds its entries
	// since the operator stopped writing trails.
	log *namespaceLog
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

// entries are the incident's entries: those of its AuditTrail, written
// before the audit log, then those of its namespace's log.
func (t trail) entries() ([]securityv1alpha1.AuditEntry, error) {
	entries, err := audit.Entries(t.segments)
	if err != nil || t.log == nil {
		return entries, err
	}
	if t.log.err != nil {
		return nil, t.log.err
	}
	logged, err := t.log.entriesOf(t.subject.UID)
	return append(entries, logged...), err
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

	// log is set on the result of a namespace's log as a whole.
	log *namespaceLog
}

func (t trail) verify(keys *audit.KeyRing) verification {
	v := verification{Namespace: t.namespace, Incident: t.subject.Name, UID: t.subject.UID, Deleted: t.incident == nil, SignaturesChecked: true}
	var entries, logged []securityv1alpha1.AuditEntry
	var err error
	if t.log != nil {
		err = t.log.err
		if err == nil {
			logged, err = t.log.entriesOf(t.subject.UID)
		}
	}
	if err == nil && len(t.segments) > 0 {
		// Entries recorded before the audit log, in the incident's trail.
		v.SignaturesChecked = keys != nil
		opts := audit.VerifyOptions{Keys: keys, Sealed: t.incident == nil && len(logged) == 0}
		if t.incident != nil && t.incident.Status.Audit != nil {
			opts.Head = t.incident.Status.Audit.Head
		}
		if entries, err = audit.Entries(t.segments); err == nil {
			_, err = audit.Verify(t.namespace, t.subject, entries, opts)
		}
	}
	entries = append(entries, logged...)
	v.Entries = len(entries)
	var missing []string
	if err == nil && t.incident != nil {
		missing = auditrecord.Missing(t.incident, entries)
	}
	var broken *audit.BrokenError
	var problems []translog.Problem
	if t.log != nil {
		problems = t.log.byUID[t.subject.UID]
	}
	switch {
	case err == nil && len(problems) > 0:
		at := problems[0].Index
		v.BrokenAt, v.Problem = &at, "the namespace's audit log: "+problems[0].String()
	case err == nil && t.incident == nil && len(logged) > 0 && logged[len(logged)-1].Action != securityv1alpha1.AuditDeleted:
		v.Problem = "the incident is gone, but its entries in the audit log do not end with its deletion (cut short?)"
	case err == nil && len(missing) > 0:
		v.Problem = "the record verifies but lacks what the incident records (cut short?): " + strings.Join(missing, "; ")
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
		return fmt.Sprintf("%s: verified, %d entries, ending with its Deleted entry", who, v.Entries)
	case v.Verified:
		return fmt.Sprintf("%s: verified, %d entries, as many as its status counts", who, v.Entries)
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
	cmd := &cobra.Command{Use: "audit", Short: "Check incidents' audit records, and print the audit log's public key"}
	var all bool
	var keyFile, output string
	var logFlags logKeyFlags
	var archived archiveFlags
	verify := &cobra.Command{
		Use:   "verify [NAME | --all] [-A] [--log-key FILE]",
		Short: "Verify incidents' audit records: the namespace's audit log, signed checkpoints, and what each status counts",
		Long: `Verify incidents' audit records. Each namespace's audit log (its AuditBatches)
is recomputed as a Merkle tree: entries numbered without a gap, each batch
linked to the one before, each root recomputed from the entries, each
checkpoint signed with the audit log key and consistent with the one
before, and the log holding every entry each incident's status counts. A
deleted incident's entries must end with its Deleted entry. Exit status 0
when every record verifies; otherwise 1, naming the entry's index in the
log, the incident and its UID.

The public key is read from the ConfigMap the operator publishes it in,
unless --log-key gives a copy kept outside the cluster (kubectl incident
audit key prints it): whoever can write the ConfigMap can replace it.

Incidents recorded before the audit log keep their first entries in an
AuditTrail, checked as a hash chain; --key-file takes the keys that signed
those trails (id=hexsecret lines, or the Secret incident-operator-audit-key
as kubectl get secret -o yaml prints it) to check their signatures too.

With --archive DIR or s3://bucket/prefix, the logs are read from the
operator's write-once archive instead, with no cluster at all: --from and
--to pick the entries by time, reading only their batches and the tiles
before them, and the archived checkpoints after them must extend them.
Each incident retention archived whole (with an entry among those
verified; every one without --from and --to) is checked against the log
too: its entries must be the log's at their indexes, with none of its own
left out, and as many as its status counts.`,
		ValidArgsFunction: completeIncidents(o),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if archived.location != "" {
				if len(args) > 0 {
					return fmt.Errorf("--archive verifies namespaces' logs: give -n NAMESPACE or --all, not an incident")
				}
				return verifyArchive(cmd.Context(), o, &archived, &logFlags, all, output)
			}
			if archived.from != "" || archived.to != "" {
				return fmt.Errorf("--from and --to are for --archive")
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
			results, err := verifyTrails(cmd.Context(), o, name, keys, &logFlags)
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
	verify.Flags().StringVar(&keyFile, "key-file", "", "the keys that signed AuditTrails written before the audit log: id=hexsecret lines, or the Secret's YAML")
	logFlags.bind(verify)
	archived.bind(verify)
	addOutput(verify, &output, "the results")
	o.addAllNamespaces(verify, "verify trails (with --all)")
	cmd.AddCommand(verify, newAuditKeyCommand(o))
	return cmd
}

// verifyTrails finds and verifies the records asked for: with --all, each
// namespace's log as a whole first.
func verifyTrails(ctx context.Context, o *options, name string, keys *audit.KeyRing, flags *logKeyFlags) ([]verification, error) {
	c, ns, err := o.connect()
	if err != nil {
		return nil, err
	}
	if name != "" && ns == "" {
		return nil, fmt.Errorf("-A is for --all: give the incident's namespace with -n")
	}
	key, err := flags.load(ctx, c)
	if err != nil {
		return nil, err
	}
	trails, logs, err := findTrails(ctx, c, ns, name, &key)
	if err != nil {
		return nil, err
	}
	var results []verification
	if name == "" {
		for _, l := range logs {
			results = append(results, l.verification())
		}
	}
	for _, t := range trails {
		v := t.verify(keys)
		if v.headRace(t) {
			// Read both again once the operator has had time to write
			// the status after the trail.
			time.Sleep(time.Second)
			if fresh, err := getIncident(ctx, c, t.namespace, t.subject.Name); err == nil && fresh.UID == t.incident.UID {
				if again, err := readTrail(ctx, c, fresh); err == nil {
					again.log = t.log
					v = again.verify(keys)
				}
			}
		}
		results = append(results, v)
	}
	return results, nil
}

// verification is the result of a namespace's log as a whole.
func (l *namespaceLog) verification() verification {
	v := verification{Namespace: l.namespace, Incident: "(audit log)", Entries: int(l.newest.Size), SignaturesChecked: true, Verified: l.err == nil && len(l.problems) == 0}
	if !v.Verified {
		v.Problem = strings.TrimPrefix(l.String(), "namespace "+l.namespace+" audit log: BROKEN: ")
		if len(l.problems) > 0 {
			at := l.problems[0].Index
			v.BrokenAt = &at
		}
	}
	v.log = l
	return v
}

// findTrails are the records of the incident name (and of deleted
// incidents of that name), or with name "" of every incident in ns and
// every deleted one, with the logs of their namespaces, verified.
func findTrails(ctx context.Context, c client.Client, ns, name string, key *logKey) ([]trail, []*namespaceLog, error) {
	var incidents []securityv1alpha1.Incident
	if name != "" {
		inc := &securityv1alpha1.Incident{}
		err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, inc)
		switch {
		case err == nil:
			incidents = append(incidents, *inc)
		case !apierrors.IsNotFound(err):
			return nil, nil, fmt.Errorf("reading incident %s: %w", name, err)
		}
	} else {
		var list securityv1alpha1.IncidentList
		if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return nil, nil, fmt.Errorf("listing incidents: %w", err)
		}
		incidents = list.Items
	}
	namespaces := []string{ns}
	if ns == "" {
		var list corev1.NamespaceList
		if err := c.List(ctx, &list); err != nil {
			return nil, nil, fmt.Errorf("listing namespaces: %w", err)
		}
		namespaces = namespaces[:0]
		for _, n := range list.Items {
			namespaces = append(namespaces, n.Name)
		}
	}
	logs := map[string]*namespaceLog{}
	var ordered []*namespaceLog
	for _, n := range namespaces {
		l := readNamespaceLog(ctx, c, n, key, incidents)
		if len(l.batches) > 0 || l.err != nil || ns != "" {
			logs[n] = l
			ordered = append(ordered, l)
		}
	}
	existing := map[types.UID]bool{}
	var trails []trail
	for i := range incidents {
		existing[incidents[i].UID] = true
		t, err := readTrail(ctx, c, &incidents[i])
		if err != nil {
			return nil, nil, err
		}
		t.log = logs[t.namespace]
		trails = append(trails, t)
	}
	deleted, err := deletedTrails(ctx, c, ns, name, existing)
	if err != nil {
		return nil, nil, err
	}
	for i := range deleted {
		deleted[i].log = logs[deleted[i].namespace]
		existing[types.UID(deleted[i].subject.UID)] = true
	}
	trails = append(trails, deleted...)
	for _, l := range ordered {
		for _, subject := range l.deletedSubjects(name, existing) {
			trails = append(trails, trail{namespace: l.namespace, subject: subject, log: l})
		}
	}
	if name != "" && len(trails) == 0 {
		return nil, nil, fmt.Errorf("there is no incident %q in namespace %q, and no audit record of one", name, ns)
	}
	return trails, ordered, nil
}

func writeVerifications(w io.Writer, results []verification, keys *audit.KeyRing) {
	trails := false
	for _, v := range results {
		if v.log != nil {
			printable.Fprintf(w, "%s\n", v.log)
			continue
		}
		printable.Fprintf(w, "%s\n", v)
		trails = trails || !v.SignaturesChecked
	}
	switch {
	case keys != nil:
		fmt.Fprintf(w, "Checkpoints were checked with the audit log key; AuditTrails written before the audit log, with the %s.\n", keys)
	case trails:
		fmt.Fprintln(w, "Checkpoints were checked with the audit log key. The signatures of AuditTrails written before the audit log were NOT checked (no --key-file): hashes, links and heads only.")
	default:
		fmt.Fprintln(w, "Checkpoints were checked with the audit log key.")
	}
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
