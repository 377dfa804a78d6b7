package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	auditrecord "github.com/incidentops/incident-operator/internal/record"
	"github.com/incidentops/incident-operator/internal/translog"
)

// The ConfigMap where the operator publishes the audit log's public key,
// and its keys (controllers.LogVerifierKey, controllers.LogOriginKey).
const (
	logKeyConfigMap   = "incident-operator-audit-log-key"
	logKeyVerifierKey = "verifier"
	logKeyOriginKey   = "origin"
)

// logKeyFlags say where the audit log's public key comes from: a file an
// auditor keeps, or the ConfigMap the operator publishes it in.
type logKeyFlags struct {
	file, origin, operatorNamespace string
}

func (f *logKeyFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.file, "log-key", "", "file holding the audit log's public key and origin, as kubectl incident audit key prints them (default: read them from the operator's ConfigMap)")
	cmd.Flags().StringVar(&f.origin, "log-origin", "", "the operator's --audit-log-origin (default: read it from the operator's ConfigMap)")
	cmd.Flags().StringVar(&f.operatorNamespace, "operator-namespace", "incident-operator-system", "the operator's namespace, where it publishes the audit log's public key")
}

// logKey is the audit log's public key and origin prefix.
type logKey struct {
	verifier note.Verifier
	text     string
	origin   string
	// from says where the key was read.
	from string
}

// load reads the key from the file, or else from the ConfigMap.
func (f *logKeyFlags) load(ctx context.Context, c client.Client) (logKey, error) {
	k := logKey{origin: f.origin}
	if f.file != "" {
		read, err := readKeyFile(f.file)
		if err != nil {
			return k, err
		}
		k.text, k.from, k.origin = read.text, read.from, cmp.Or(k.origin, read.origin)
	}
	if k.text == "" || k.origin == "" {
		cm := &corev1.ConfigMap{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: f.operatorNamespace, Name: logKeyConfigMap}, cm); err != nil {
			return k, fmt.Errorf("reading the audit log's public key from ConfigMap %s/%s (give --log-key and --log-origin instead): %w", f.operatorNamespace, logKeyConfigMap, err)
		}
		if k.text == "" {
			k.text, k.from = cm.Data[logKeyVerifierKey], "ConfigMap "+f.operatorNamespace+"/"+logKeyConfigMap
		}
		k.origin = cmp.Or(k.origin, cm.Data[logKeyOriginKey])
	}
	verifier, err := note.NewVerifier(k.text)
	if err != nil {
		return k, fmt.Errorf("the audit log's public key from %s: %w", k.from, err)
	}
	k.verifier = verifier
	return k, nil
}

// readKeyFile reads the key, and the origin on a line of its own, as audit
// key prints them.
func readKeyFile(file string) (logKey, error) {
	k := logKey{from: file}
	data, err := os.ReadFile(file)
	if err != nil {
		return k, fmt.Errorf("--log-key: %w", err)
	}
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if origin, ok := strings.CutPrefix(line, "origin "); ok {
			k.origin = cmp.Or(k.origin, strings.TrimSpace(origin))
		} else if line != "" && k.text == "" {
			k.text = line
		}
	}
	return k, nil
}

// namespaceLog is a namespace's audit log as stored, and what verifying
// it found.
type namespaceLog struct {
	namespace string
	batches   []translog.Batch
	newest    translog.Checkpoint
	// problems found by verification, and those of them that name each
	// incident's UID.
	problems []translog.Problem
	byUID    map[string][]translog.Problem
	err      error
}

// readNamespaceLog reads and verifies a namespace's log with key, checking
// that it holds the entries the incidents' statuses count; with key nil it
// only reads it.
func readNamespaceLog(ctx context.Context, c client.Client, ns string, key *logKey, incidents []securityv1alpha1.Incident) *namespaceLog {
	l := &namespaceLog{namespace: ns, byUID: map[string][]translog.Problem{}}
	var list securityv1alpha1.AuditBatchList
	if err := c.List(ctx, &list, client.InNamespace(ns)); err != nil {
		l.err = fmt.Errorf("listing the audit log of namespace %s: %w", ns, err)
		return l
	}
	slices.SortFunc(list.Items, func(a, b securityv1alpha1.AuditBatch) int { return cmp.Compare(a.Spec.First, b.Spec.First) })
	for _, obj := range list.Items {
		b, err := translog.ParseStored(obj.Spec.First, obj.Spec.Entries, obj.Spec.Previous, obj.Spec.Root, obj.Spec.Checkpoint)
		if err != nil {
			l.err = fmt.Errorf("audit batch %s/%s: spec.%w", ns, obj.Name, err)
			return l
		}
		l.batches = append(l.batches, b)
	}
	if key == nil {
		return l
	}
	opts := translog.VerifyOptions{Origin: key.origin + "/" + ns, Verifier: key.verifier}
	for _, inc := range incidents {
		if inc.Namespace == ns && inc.Status.Audit != nil && inc.Status.Audit.Log != nil {
			opts.Expect = append(opts.Expect, translog.Expected{Namespace: ns, Incident: inc.Name, UID: string(inc.UID),
				Entries: inc.Status.Audit.Log.Entries, Last: inc.Status.Audit.Log.Last})
		}
	}
	newest, err := translog.Verify(l.batches, opts)
	l.newest = newest
	var broken *translog.BrokenError
	switch {
	case errors.As(err, &broken):
		l.problems = broken.Problems
		for _, p := range broken.Problems {
			for _, who := range p.Incidents {
				if _, uid, ok := strings.Cut(who, " uid "); ok {
					l.byUID[uid] = append(l.byUID[uid], p)
				}
			}
		}
	case err != nil:
		l.err = err
	}
	return l
}

// entriesOf are the incident's entries in the log.
func (l *namespaceLog) entriesOf(uid string) ([]securityv1alpha1.AuditEntry, error) {
	return auditrecord.OfIncident(l.batches, uid)
}

// deletedSubjects are the incidents whose entries the log holds but that
// no longer exist, named name when name is not "".
func (l *namespaceLog) deletedSubjects(name string, existing map[types.UID]bool) []securityv1alpha1.AuditSubject {
	seen := map[string]bool{}
	var out []securityv1alpha1.AuditSubject
	for _, b := range l.batches {
		lines, err := b.Lines()
		if err != nil {
			continue
		}
		for _, line := range lines {
			e, err := translog.ParseEntry(line)
			if err != nil || e.UID == "" || seen[e.UID] || existing[types.UID(e.UID)] || (name != "" && e.Incident != name) {
				continue
			}
			seen[e.UID] = true
			out = append(out, securityv1alpha1.AuditSubject{Kind: "Incident", Name: e.Incident, UID: e.UID})
		}
	}
	return out
}

// String says what verifying the whole log found.
func (l *namespaceLog) String() string {
	switch {
	case l.err != nil:
		return fmt.Sprintf("namespace %s audit log: BROKEN: %v", l.namespace, l.err)
	case len(l.problems) > 0:
		msg := fmt.Sprintf("namespace %s audit log: BROKEN: %s", l.namespace, l.problems[0])
		if len(l.problems) > 1 {
			msg += fmt.Sprintf(" (and %d more problems)", len(l.problems)-1)
		}
		return msg
	case len(l.batches) == 0:
		return fmt.Sprintf("namespace %s audit log: no entries yet", l.namespace)
	}
	return fmt.Sprintf("namespace %s audit log: verified, %d entries in %d batches, the newest checkpoint (size %d) signed by the log key",
		l.namespace, l.newest.Size, len(l.batches), l.newest.Size)
}

func newAuditKeyCommand(o *options) *cobra.Command {
	var flags logKeyFlags
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Print the public key that verifies the audit logs' checkpoints, as the operator publishes it",
		Long: `Print the audit log's public key (a note verifier key, name+hash+key) and the
origin prefix of the namespaces' logs, from the ConfigMap the operator
publishes them in. Keep a copy outside the cluster and give it to audit
verify --log-key: whoever can write the ConfigMap can replace the copy there.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.kubeClient()
			if err != nil {
				return err
			}
			key, err := flags.load(cmd.Context(), c)
			if err != nil {
				return err
			}
			fmt.Fprintf(o.streams.Out, "%s\norigin %s\n", key.text, key.origin)
			fmt.Fprintf(o.streams.ErrOut, "From %s. Each namespace's log is named %s/<namespace>. Keep this outside the cluster and give it to kubectl incident audit verify --log-key FILE.\n", key.from, key.origin)
			return nil
		},
	}
	cmd.Flags().StringVar(&flags.operatorNamespace, "operator-namespace", "incident-operator-system", "the operator's namespace, where it publishes the audit log's public key")
	return cmd
}
