// kubectl-incident is the kubectl plugin for the people who report,
// handle and review information-security incidents: `kubectl incident
// report`, `ack`, `resolve`, `list`, `why`, `timeline`, `audit verify`,
// `evidence`, `export`, `summary` and `import`. It reads the cluster as
// kubectl does (--kubeconfig, --context, -n, --as) and acts as the user
// the API server authenticates; it never names the acting account itself.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/yaml"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/internal/printable"
)

// completeName is the name kubectl looks for to complete a plugin's
// arguments (kubectl_complete-<plugin>); a link of that name to this
// binary completes.
const completeName = "kubectl_complete-incident"

func main() {
	streams := genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	root := newRootCommand(newOptions(streams))
	if filepath.Base(os.Args[0]) == completeName {
		root.SetArgs(append([]string{cobra.ShellCompRequestCmd}, os.Args[1:]...))
	}
	if err := root.Execute(); err != nil {
		printError(os.Stderr, err)
		os.Exit(1)
	}
}

// printError says what went wrong, as describe words it; what the error
// quotes of an incident or of the API server's answer is shown as text,
// never sent to the terminal as it is.
func printError(w io.Writer, err error) {
	fmt.Fprintln(w, printable.Lines(describe(err)))
}

// options are what every command shares: kubectl's connection flags, the
// streams, the clock and the client made from them.
type options struct {
	config  *genericclioptions.ConfigFlags
	streams genericiooptions.IOStreams
	now     func() time.Time
	// allNamespaces is -A, for the commands that have it.
	allNamespaces bool

	client client.Client
}

func newOptions(streams genericiooptions.IOStreams) *options {
	return &options{config: genericclioptions.NewConfigFlags(true), streams: streams, now: time.Now}
}

func newRootCommand(o *options) *cobra.Command {
	root := &cobra.Command{
		Use:   "incident",
		Short: "Report, handle and review information-security incidents",
		Long: `kubectl incident reports information-security incidents and weaknesses,
records who acknowledged and resolved them, explains who was told and why,
and produces the weekly control document and the review group's summary.

Every record is made as the account the API server authenticates (use --as
to act as another user, as with kubectl); the admission policies write that
account beside the record.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl incident"},
	}
	o.config.AddFlags(root.PersistentFlags())
	root.AddCommand(
		newReportCommand(o),
		newAckCommand(o),
		newResolveCommand(o),
		newNotifyAuthorityCommand(o),
		newHoldCommand(o),
		newReleaseCommand(o),
		newListCommand(o),
		newWhyCommand(o),
		newTimelineCommand(o),
		newAuditCommand(o),
		newEvidenceCommand(o),
		newExportCommand(o),
		newSummaryCommand(o),
		newImportCommand(o),
		newReviewCommand(o),
		newObligationsCommand(o),
		newDecideCommand(o),
		newDraftCommand(o),
		newAgreeCommand(o),
		newFileCommand(o),
		newAcknowledgeFilingCommand(o),
		newCorrespondCommand(o),
		newTestCommand(o),
	)
	return root
}

// kubeClient is a client for the cluster and user the flags name.
func (o *options) kubeClient() (client.Client, error) {
	if o.client != nil {
		return o.client, nil
	}
	cfg, err := o.config.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("reading the kubeconfig: %w", err)
	}
	cfg.UserAgent = "kubectl-incident"
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("connecting to the API server: %w", err)
	}
	o.client = c
	return c, nil
}

// connect is a client for the cluster and user the flags name, and the
// namespace they name: "" with -A.
func (o *options) connect() (client.Client, string, error) {
	c, err := o.kubeClient()
	if err != nil {
		return nil, "", err
	}
	ns, err := o.listNamespace()
	return c, ns, err
}

// incident connects and reads the incident name of the namespace.
func (o *options) incident(ctx context.Context, name string) (client.Client, *securityv1alpha1.Incident, error) {
	c, ns, err := o.connect()
	if err != nil {
		return nil, nil, err
	}
	inc, err := getIncident(ctx, c, ns, name)
	return c, inc, err
}

// namespace is -n, or the kubeconfig context's namespace.
func (o *options) namespace() (string, error) {
	ns, _, err := o.config.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", fmt.Errorf("reading the namespace from the kubeconfig: %w", err)
	}
	return ns, nil
}

// listNamespace is "" with -A, else the namespace.
func (o *options) listNamespace() (string, error) {
	if o.allNamespaces {
		return "", nil
	}
	return o.namespace()
}

// addAllNamespaces adds -A to a command.
func (o *options) addAllNamespaces(cmd *cobra.Command, what string) {
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, what+" in every namespace")
}

// scheme knows the built-in kinds and the project's.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(securityv1alpha1.AddToScheme(s))
	return s
}()

// describe says what went wrong as kubectl would: a refusal by the API
// server (RBAC, an admission policy, a CRD rule) is its own message.
func describe(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		s := status.Status()
		reason := string(s.Reason)
		if reason == "" {
			reason = fmt.Sprintf("%d", s.Code)
		}
		msg := err.Error()
		if !strings.HasSuffix(msg, s.Message) {
			// The answer is within what the command says about it.
			return "error: " + msg
		}
		// What the command was doing, before the API server's answer.
		prefix := strings.TrimSuffix(msg, s.Message)
		message := s.Message
		if s.Details != nil {
			// A generic message ("the server rejected our request") has
			// what went wrong in its causes.
			for _, c := range s.Details.Causes {
				if c.Message != "" && !strings.Contains(message, c.Message) {
					message += ": " + c.Message
				}
			}
		}
		return fmt.Sprintf("%sError from server (%s): %s", prefix, reason, message)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "error: the API server did not answer in time: " + err.Error()
	}
	return "error: " + err.Error()
}

// printObject prints obj as JSON or YAML, as kubectl get -o does.
func printObject(o *options, format string, obj runtime.Object) error {
	if err := setKind(obj); err != nil {
		return err
	}
	var b bytes.Buffer
	switch format {
	case "json":
		if err := (&printers.JSONPrinter{}).PrintObj(obj, &b); err != nil {
			return err
		}
	case "yaml":
		// As printers.YAMLPrinter makes it, from the object's JSON.
		data, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		b.Write(data)
	default:
		return fmt.Errorf("-o %q is not an output format here: use json or yaml, or leave -o out", format)
	}
	return writeStructured(o.streams.Out, format, b.Bytes())
}

// printData prints what is not a Kubernetes object (results, events) as
// JSON or YAML.
func printData(o *options, format string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeStructured(o.streams.Out, format, append(data, '\n'))
}

// writeStructured writes a JSON document as JSON, or as YAML. encoding/json
// escapes the C0 controls but leaves DEL, the C1 controls and format
// characters (the bidi overrides) raw: they are written as JSON escapes,
// which decode to the same text. The YAML encoder, which refuses those
// controls raw, reads that JSON and escapes every control character
// itself; it leaves the format characters raw, as an escape of its own
// would change the text of a plain scalar.
func writeStructured(w io.Writer, format string, data []byte) error {
	data = printable.JSON(data)
	if format == "yaml" {
		var err error
		if data, err = yaml.JSONToYAML(data); err != nil {
			return err
		}
	}
	_, err := w.Write(data)
	return err
}

// setKind fills in the apiVersion and kind, which typed clients leave out.
func setKind(obj runtime.Object) error {
	gvk, err := apiutil.GVKForObject(obj, scheme)
	if err != nil {
		return err
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return nil
}

// location reads a --tz flag: an IANA zone name, or the local zone when
// none is given.
func location(zone string) (*time.Location, error) {
	if zone == "" {
		return time.Local, nil
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("--tz %q is not a time zone: use an IANA name such as Europe/London or UTC", zone)
	}
	return loc, nil
}

// addOutput adds -o json|yaml to a command that prints what.
func addOutput(cmd *cobra.Command, output *string, what string) {
	cmd.Flags().StringVarP(output, "output", "o", "", "json or yaml: print "+what)
}

// checkOutput refuses an -o other than json or yaml before the command
// acts; none is the command's own text.
func checkOutput(format string) error {
	if format == "" {
		return nil
	}
	return checkFormat(format, "json", "yaml")
}

// checkFormat refuses an -o the command does not have before it acts.
func checkFormat(format string, valid ...string) error {
	for _, v := range valid {
		if format == v {
			return nil
		}
	}
	return fmt.Errorf("-o %q is not an output format of this command: use %s", format, strings.Join(valid, ", "))
}
