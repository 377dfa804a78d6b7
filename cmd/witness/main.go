// witness is a transparency-log witness that another team runs for the
// operator's audit logs: it cosigns a log's checkpoint only if it extends
// the last one it cosigned, so that whoever holds the log's key cannot
// rewrite the log unseen. It speaks the C2SP tlog-witness protocol
// (internal/witness).
//
//	witness keygen --name witness.example.com/security --key-file witness.key
//	witness serve --listen 127.0.0.1:8448 --key-file witness.key --state-dir /var/lib/witness \
//	    --log 'incidents.example.com/log/security=<the log's verifier key>'
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/mod/sumdb/note"
	"k8s.io/utils/clock"

	"github.com/incidentops/incident-operator/internal/witness"
)

const usage = `witness cosigns transparency-log checkpoints that extend the ones it cosigned.

Usage:
  witness keygen --name NAME --key-file FILE   write a new private key to FILE, print its verifier key
  witness serve --key-file FILE --state-dir DIR --log 'ORIGIN=VERIFIER KEY' [--listen ADDR]
                                               serve POST /add-checkpoint and GET /healthz

Run witness COMMAND --help for its flags.
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// usageError is a command line that cannot run: exit status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }

func badFlag(flag string, format string, args ...any) error {
	return usageError{fmt.Errorf("--%s: %s", flag, fmt.Sprintf(format, args...))}
}

// run runs the command args and returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "keygen":
		err = keygen(args[1:], stdout)
	case "serve":
		err = serve(ctx, args[1:], stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = usageError{fmt.Errorf("unknown command %q: want keygen or serve", args[0])}
	}
	switch {
	case errors.Is(err, pflag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "witness %s: %v\n", args[0], err)
		return 2
	case err != nil:
		fmt.Fprintf(stderr, "witness %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

// parse reads a command's flags; their own errors are usage errors.
func parse(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	return nil
}

// keygen writes a new witness private key to --key-file, which must not
// exist, readable by its owner only, and prints the verifier key that logs
// and verifiers are given.
func keygen(args []string, stdout io.Writer) error {
	fs := pflag.NewFlagSet("keygen", pflag.ContinueOnError)
	name := fs.String("name", "", "the witness's name, a schema-less URL such as witness.example.com/security (required)")
	keyFile := fs.String("key-file", "", "where to write the private key; it must not exist (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return badFlag("name", "required: the witness's name, such as witness.example.com/security")
	}
	if *keyFile == "" {
		return badFlag("key-file", "required: where to write the private key")
	}
	skey, vkey, err := witness.GenerateKey(rand.Reader, *name)
	if err != nil {
		return badFlag("name", "%v", err)
	}
	f, err := os.OpenFile(*keyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return badFlag("key-file", "%s exists; a witness key is never overwritten", *keyFile)
	}
	if err != nil {
		return badFlag("key-file", "%v", err)
	}
	if _, err := fmt.Fprintln(f, skey); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, vkey)
	return err
}

// serve runs the witness until ctx ends or the process gets SIGTERM or
// SIGINT, then lets requests in flight finish.
func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8448", "the address to serve on")
	keyFile := fs.String("key-file", "", "the witness's private key, as witness keygen writes it (required)")
	stateDir := fs.String("state-dir", "", "the directory that keeps the last checkpoint cosigned for each log and the evidence of refused ones; it must exist and survive restarts (required)")
	logFlags := fs.StringArray("log", nil, "a log to cosign for, as ORIGIN=VERIFIER KEY (repeatable; the same origin twice gives it two keys)")
	logsFile := fs.String("logs-file", "", "a file of logs, one ORIGIN=VERIFIER KEY a line; blank lines and lines starting with # are skipped")
	shutdownTimeout := fs.Duration("shutdown-timeout", 10*time.Second, "how long requests in flight may take after SIGTERM")
	if err := parse(fs, args); err != nil {
		return err
	}

	if *keyFile == "" {
		return badFlag("key-file", "required: the witness's private key, as witness keygen writes it")
	}
	skey, err := os.ReadFile(*keyFile)
	if err != nil {
		return badFlag("key-file", "%v", err)
	}
	cosigner, err := witness.NewCosigner(string(skey), clock.RealClock{})
	if err != nil {
		return badFlag("key-file", "%s: %v", *keyFile, err)
	}
	if *stateDir == "" {
		return badFlag("state-dir", "required: the directory that keeps what the witness cosigned")
	}
	if info, err := os.Stat(*stateDir); err != nil || !info.IsDir() {
		return badFlag("state-dir", "%s is not a directory: create it for a new witness; for one that ran before, a lost state directory lets it cosign a rewritten log", *stateDir)
	}
	logs, err := readLogs(*logFlags, *logsFile)
	if err != nil {
		return err
	}

	logger := slog.New(slog.NewTextHandler(stderr, nil))
	w, err := witness.New(witness.Config{Cosigner: cosigner, Logs: logs, StateDir: *stateDir, Logger: logger})
	if err != nil {
		return err
	}
	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		return badFlag("listen", "%v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /add-checkpoint", w)
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) { fmt.Fprintln(rw, "ok") })
	server := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	origins := make([]string, len(logs))
	for i, l := range logs {
		origins[i] = l.Origin
	}
	logger.Info("serving", "addr", listener.Addr().String(), "witness", cosigner.Name(), "verifierKey", cosigner.VerifierKey(), "logs", strings.Join(origins, ","))

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
	defer cancel()
	if err := server.Shutdown(shutdown); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// readLogs reads the logs of --log and --logs-file, the keys of an origin
// named more than once joined.
func readLogs(flags []string, file string) ([]witness.Log, error) {
	type named struct{ flag, value string }
	var specs []named
	for _, f := range flags {
		specs = append(specs, named{"log", f})
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, badFlag("logs-file", "%v", err)
		}
		lines := bufio.NewScanner(bytes.NewReader(data))
		for n := 1; lines.Scan(); n++ {
			line := strings.TrimSpace(lines.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			specs = append(specs, named{fmt.Sprintf("logs-file %s line %d", file, n), line})
		}
	}
	if len(specs) == 0 {
		return nil, badFlag("log", "required: at least one log, as ORIGIN=VERIFIER KEY (or --logs-file)")
	}
	var logs []witness.Log
	at := map[string]int{}
	for _, s := range specs {
		origin, vkey, ok := strings.Cut(s.value, "=")
		origin, vkey = strings.TrimSpace(origin), strings.TrimSpace(vkey)
		if !ok || origin == "" || vkey == "" {
			return nil, badFlag(s.flag, "%q is not ORIGIN=VERIFIER KEY", s.value)
		}
		verifier, err := note.NewVerifier(vkey)
		if err != nil {
			return nil, badFlag(s.flag, "the key of %s is not a signed-note verifier key (name+hash+key): %v", origin, err)
		}
		if i, ok := at[origin]; ok {
			logs[i].Verifiers = append(logs[i].Verifiers, verifier)
			continue
		}
		at[origin] = len(logs)
		logs = append(logs, witness.Log{Origin: origin, Verifiers: []note.Verifier{verifier}})
	}
	return logs, nil
}
