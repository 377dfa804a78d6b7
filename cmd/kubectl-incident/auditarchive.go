package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/incidentops/incident-operator/internal/archive"
	"github.com/incidentops/incident-operator/internal/printable"
	"github.com/incidentops/incident-operator/internal/retained"
	"github.com/incidentops/incident-operator/internal/translog"
	"github.com/incidentops/incident-operator/internal/witness"
)

// archiveFlags say which archive a command reads: for audit verify
// --archive, the logs and what part of them; for timeline, export and
// summary, the incidents retention archived and removed from the cluster.
type archiveFlags struct {
	location, from, to string
	endpoint, region   string
	pathStyle          bool
	requireWitness     string
	// origin is the operator's --audit-log-origin, for the commands that
	// read archived incidents (audit verify reads it with the key).
	origin string
}

func (f *archiveFlags) bind(cmd *cobra.Command) {
	f.bindStore(cmd, "verify the audit logs in the archive at DIR or s3://bucket/prefix instead of the cluster, which is not needed: give --log-key, and -n NAMESPACE or --all")
	cmd.Flags().StringVar(&f.from, "from", "", "with --archive, the first day (2026-01-31) or time (RFC 3339) whose entries are verified; the start of the log when empty")
	cmd.Flags().StringVar(&f.to, "to", "", "with --archive, the day or time before which entries are verified; the end of the log when empty")
	cmd.Flags().StringVar(&f.requireWitness, "require-witness", "", "with --archive, the witness's public key (or a file holding it): each log must have a checkpoint it cosigned, and extend it")
}

// bindIncidents adds the flags of a command that reads incidents
// retention archived: --archive, saying what it is for, and the log's
// origin.
func (f *archiveFlags) bindIncidents(cmd *cobra.Command, usage string) {
	f.bindStore(cmd, usage)
	cmd.Flags().StringVar(&f.origin, "log-origin", "incident-operator", "with --archive, the operator's --audit-log-origin: the archive holds namespace NS's log as ORIGIN/NS")
}

// bindStore adds --archive and the flags of an S3 archive.
func (f *archiveFlags) bindStore(cmd *cobra.Command, usage string) {
	cmd.Flags().StringVar(&f.location, "archive", "", usage)
	cmd.Flags().StringVar(&f.endpoint, "s3-endpoint", "", "with an s3:// --archive, the URL of the S3-compatible server; empty for AWS. Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	cmd.Flags().StringVar(&f.region, "s3-region", "us-east-1", "with an s3:// --archive, the bucket's region")
	cmd.Flags().BoolVar(&f.pathStyle, "s3-path-style", false, "with an s3:// --archive, name the bucket in the URL's path")
}

// when reads a --from or --to: a day, or a time.
func when(flag, value string, otherwise time.Time) (time.Time, error) {
	if value == "" {
		return otherwise, nil
	}
	if t, err := time.Parse(time.DateOnly, value); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, value)
	if err != nil {
		return t, fmt.Errorf("--%s %q: want a day such as 2026-01-31 or an RFC 3339 time", flag, value)
	}
	return t, nil
}

// store opens the archive.
func (f *archiveFlags) store(ctx context.Context) (archive.Store, error) {
	if strings.HasPrefix(f.location, "s3://") {
		return archive.NewS3(ctx, archive.S3Config{URL: f.location, Endpoint: f.endpoint, Region: f.region, PathStyle: f.pathStyle,
			AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"), SessionToken: os.Getenv("AWS_SESSION_TOKEN")})
	}
	return archive.NewDir(f.location)
}

// archivedLog is what verifying one namespace's log in the archive found.
type archivedLog struct {
	Namespace string `json:"namespace"`
	Log       string `json:"log"`
	Verified  bool   `json:"verified"`
	// First and End are the entries verified, First to End-1.
	First     int64   `json:"first"`
	End       int64   `json:"end"`
	Batches   int     `json:"batches"`
	Size      int64   `json:"size"`
	BytesRead int64   `json:"bytesRead"`
	Seconds   float64 `json:"seconds"`
	Problem   string  `json:"problem,omitempty"`
	// RetainedIncidents is how many incidents retention archived were
	// checked against the log, and RetainedProblems what was wrong with
	// those that do not check.
	RetainedIncidents int      `json:"retainedIncidents"`
	RetainedProblems  []string `json:"retainedProblems,omitempty"`
}

func (v archivedLog) String() string {
	var b strings.Builder
	if !v.Verified {
		fmt.Fprintf(&b, "archive %s: BROKEN: %s", v.Log, v.Problem)
	} else {
		fmt.Fprintf(&b, "archive %s: verified entries %d-%d of %d (%d batches), %d bytes read in %s",
			v.Log, v.First, v.End-1, v.Size, v.Batches, v.BytesRead, time.Duration(v.Seconds*float64(time.Second)).Round(time.Millisecond))
	}
	if v.RetainedIncidents > 0 {
		fmt.Fprintf(&b, "; %d archived incident(s) checked against it", v.RetainedIncidents)
	}
	return b.String()
}

// lines are what verifying the log found, a line for the log and one for
// each archived incident that does not check.
func (v archivedLog) lines() []string {
	lines := []string{v.String()}
	for _, p := range v.RetainedProblems {
		lines = append(lines, fmt.Sprintf("archive %s: BROKEN: %s", v.Log, p))
	}
	return lines
}

// verifyArchive verifies the logs of the namespaces asked for in the
// archive, with no cluster: only the public key and the archive.
func verifyArchive(ctx context.Context, o *options, f *archiveFlags, keyFlags *logKeyFlags, all bool, output string) error {
	if keyFlags.file == "" {
		return errors.New("--archive needs --log-key: the public key and origin, as kubectl incident audit key prints them")
	}
	key, err := keyFlags.loadFile()
	if err != nil {
		return err
	}
	from, err := when("from", f.from, time.Time{})
	if err != nil {
		return err
	}
	to, err := when("to", f.to, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return err
	}
	store, err := f.store(ctx)
	if err != nil {
		return fmt.Errorf("--archive %s: %w", f.location, err)
	}
	var namespaces []string
	if all {
		if namespaces, err = archivedNamespaces(ctx, store, key.origin); err != nil {
			return err
		}
	} else {
		// -n as given: no kubeconfig is needed to read an archive.
		ns := ""
		if o.config.Namespace != nil {
			ns = *o.config.Namespace
		}
		if ns == "" {
			if ns, err = o.namespace(); err != nil {
				return fmt.Errorf("give -n NAMESPACE or --all: %w", err)
			}
		}
		namespaces = []string{ns}
	}
	var witnessKey note.Verifier
	if f.requireWitness != "" {
		text := f.requireWitness
		if data, err := os.ReadFile(text); err == nil {
			text = strings.TrimSpace(string(data))
		}
		if witnessKey, err = witness.NewVerifier(text); err != nil {
			return fmt.Errorf("--require-witness: %w", err)
		}
	}
	var results []archivedLog
	var broken []string
	for _, ns := range namespaces {
		log := key.origin + "/" + ns
		opts := translog.VerifyOptions{Origin: log, Verifier: key.verifier}
		var err error
		if witnessKey != nil {
			opts.Kept, err = witnessed(ctx, store, log, key.verifier, witnessKey)
		}
		var res archive.Result
		if err == nil {
			res, err = archive.Verify(ctx, store, log, opts, from, to)
		}
		v := archivedLog{Namespace: ns, Log: log, Verified: err == nil, First: res.First, End: res.End, Batches: res.Batches, Size: res.Size,
			BytesRead: res.BytesRead, Seconds: res.Took.Seconds()}
		if err != nil {
			v.Problem = err.Error()
			broken = append(broken, fmt.Sprintf("%s: %v", log, err))
		}
		// The incidents retention archived must say what the log says of
		// them: those of the entries verified, or every one when the
		// whole log is, or what was verified is not known.
		whole := (f.from == "" && f.to == "") || res.End <= res.First
		v.RetainedIncidents, v.RetainedProblems = checkArchivedIncidents(ctx, &retained.Reader{Store: store, Origin: key.origin}, ns, whole, res.First, res.End)
		for _, p := range v.RetainedProblems {
			broken = append(broken, fmt.Sprintf("%s: %s", log, p))
		}
		results = append(results, v)
	}
	if output != "" {
		if err := printData(o, output, results); err != nil {
			return err
		}
	} else {
		for _, v := range results {
			for _, line := range v.lines() {
				printable.Fprintf(o.streams.Out, "%s\n", line)
			}
		}
	}
	if len(broken) > 0 {
		return fmt.Errorf("%d archived audit log(s) or incident(s) do not verify:\n  %s", len(broken), strings.Join(broken, "\n  "))
	}
	return nil
}

// witnessed is the newest checkpoint of log the witness cosigned, checked,
// as a kept checkpoint the archive must extend.
func witnessed(ctx context.Context, store archive.Store, log string, logKey, witnessKey note.Verifier) ([][]byte, error) {
	cosigned, err := archive.Cosigned(ctx, store, log)
	if err != nil {
		return nil, err
	}
	if cosigned == nil {
		return nil, fmt.Errorf("the archive holds no checkpoint of %s cosigned by the witness", log)
	}
	if _, err := witness.VerifyCosigned(cosigned, log, logKey, []note.Verifier{witnessKey}, 1); err != nil {
		return nil, fmt.Errorf("the newest cosigned checkpoint of %s: %w", log, err)
	}
	return [][]byte{cosigned}, nil
}

// archivedNamespaces are the namespaces whose logs the archive holds
// under origin.
func archivedNamespaces(ctx context.Context, store archive.Store, origin string) ([]string, error) {
	keys, err := store.List(ctx, origin+"/")
	if err != nil {
		return nil, fmt.Errorf("listing the archive: %w", err)
	}
	var namespaces []string
	for _, k := range keys {
		ns, _, ok := strings.Cut(strings.TrimPrefix(k, origin+"/"), "/")
		if ok && !slices.Contains(namespaces, ns) {
			namespaces = append(namespaces, ns)
		}
	}
	if len(namespaces) == 0 {
		return nil, fmt.Errorf("the archive holds no log named %s/<namespace>", origin)
	}
	return namespaces, nil
}

// loadFile reads the key and origin from --log-key alone.
func (f *logKeyFlags) loadFile() (logKey, error) {
	k, err := readKeyFile(f.file)
	if err != nil {
		return k, err
	}
	if f.origin != "" {
		k.origin = f.origin
	}
	if k.origin == "" {
		return k, fmt.Errorf("--log-key %s holds no origin line, and no --log-origin is given", f.file)
	}
	if k.verifier, err = note.NewVerifier(k.text); err != nil {
		return k, fmt.Errorf("the audit log's public key from %s: %w", f.file, err)
	}
	return k, nil
}
