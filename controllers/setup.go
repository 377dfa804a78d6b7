package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/note"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/incidentops/incident-operator/internal/archive"
	"github.com/incidentops/incident-operator/internal/delivery"
	"github.com/incidentops/incident-operator/internal/notify"
	"github.com/incidentops/incident-operator/internal/policycheck"
	"github.com/incidentops/incident-operator/internal/receiver"
	"github.com/incidentops/incident-operator/internal/retained"
	"github.com/incidentops/incident-operator/internal/routing"
)

// Options configures the operator's controllers.
type Options struct {
	// Clock drives every timestamp and retry; tests inject a fake one.
	Clock clock.Clock
	// HTTPClient sends webhook, chat and PagerDuty notifications.
	HTTPClient *http.Client
	// Backoff is the retry schedule of failing deliveries.
	Backoff delivery.Backoff
	// MaxConcurrentReconciles bounds how many incidents are worked on at once.
	MaxConcurrentReconciles int
	// DeliveryConcurrency bounds the parallel deliveries of one incident.
	DeliveryConcurrency int
	// NamespaceDeliveryConcurrency bounds the deliveries in flight for the
	// incidents of one namespace (32 when zero): receivers that hang in
	// one namespace hold these, never another namespace's.
	NamespaceDeliveryConcurrency int
	// ReceiverDeliveryConcurrency bounds the deliveries in flight to one
	// receiver (16 when zero), so that one that hangs leaves the other
	// receivers of its namespace room.
	ReceiverDeliveryConcurrency int
	// UserAgent identifies the operator to receivers.
	UserAgent string
	// WarningEventsOnly drops the Normal events (Routed, NotificationSent,
	// Acknowledged, Resolved); status still records everything.
	WarningEventsOnly bool
	// Mail is the SMTP server for email receivers; nil disables them.
	Mail *MailOptions
	// AllowedDestinations are URL prefixes a policy may name itself
	// (PagerDuty's url), besides policycheck.DefaultDestinations. Every
	// other destination comes from a Secret labelled for the operator.
	AllowedDestinations []string
	// CheckDestination, when set, replaces the check built from
	// AllowedDestinations; tests use it to allow their servers' ports.
	CheckDestination func(url string) error
	// Egress says whether receivers may be reached on link-local addresses,
	// where clouds serve instance metadata, and on loopback, where tests
	// run their receivers. Both are refused by default.
	Egress notify.Egress
	// LogKey signs the checkpoints of the namespaces' audit logs
	// (LoadLogKey); required.
	LogKey *LogKey
	// LogOrigin prefixes the name of every namespace's log in its
	// checkpoints: <LogOrigin>/<namespace>.
	LogOrigin string
	// Archive, when set, is where every namespace's log is copied, write
	// once.
	Archive *archive.Writer
	// Witness, when set, cosigns the logs' checkpoints.
	Witness *WitnessOptions
	// AuditSink, when set, is where every audit entry is streamed.
	AuditSink *notify.WebhookTarget
	// OperatorNamespace is the operator's own namespace, which holds the
	// Secrets of ClusterEscalationPolicies' receivers; required.
	OperatorNamespace string
	// WatchNamespaces are the only namespaces an operator watches
	// (--watch-namespaces), or empty for all. Such an operator routes with
	// the cluster policies that apply to them, judged by its own checks,
	// but never writes a cluster policy's status: that is the judgement of
	// the operator that watches the whole cluster, and one writer keeps it
	// consistent.
	WatchNamespaces []string
	// DefaultRegimes are the RegulatoryRegimes that apply to every incident
	// their appliesTo describes.
	DefaultRegimes []string
}

// WitnessOptions say which witness cosigns the logs' checkpoints.
type WitnessOptions struct {
	// URL is the witness's submission prefix; Verifier its cosignature key.
	URL      string
	Verifier note.Verifier
	// Interval between submissions; a minute when zero.
	Interval time.Duration
}

// MailOptions configures the operator's one SMTP server.
type MailOptions struct {
	Server notify.MailServer
	// CredentialsSecret, when set, names a Secret with the keys username
	// and password. It is read at each send, so rotation needs no restart.
	CredentialsSecret *types.NamespacedName
}

// mailer builds the Mailer for the options, reading credentials through reader.
func (o *MailOptions) mailer(reader client.Reader) *notify.Mailer {
	if o == nil {
		return nil
	}
	m := &notify.Mailer{Server: o.Server}
	if ref := o.CredentialsSecret; ref != nil {
		m.Credentials = func(ctx context.Context) (notify.Credentials, error) {
			secret := &corev1.Secret{}
			if err := reader.Get(ctx, *ref, secret); err != nil {
				return notify.Credentials{}, fmt.Errorf("reading SMTP credentials Secret %s: %w", ref, err)
			}
			user, password := secret.Data["username"], secret.Data["password"]
			if len(user) == 0 || len(password) == 0 {
				return notify.Credentials{}, fmt.Errorf("SMTP credentials Secret %s needs the keys username and password", ref)
			}
			return notify.Credentials{Username: string(user), Password: string(password)}, nil
		}
	}
	return m
}

// Setup registers the field indexes and every controller with the manager.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.HTTPClient == nil {
		// No redirects, and no link-local, metadata or loopback addresses
		// unless the administrator allows them, checked when connecting.
		opts.HTTPClient = notify.NewHTTPClient(notify.HTTPClientOptions{Egress: opts.Egress})
	}
	if opts.Backoff == (delivery.Backoff{}) {
		opts.Backoff = delivery.DefaultBackoff
	}
	if opts.LogKey == nil {
		return errors.New("the audit log needs its signing key")
	}
	if opts.OperatorNamespace == "" {
		return errors.New("the operator's namespace is needed for cluster policies' Secrets")
	}
	if err := SetupIndexes(ctx, mgr); err != nil {
		return err
	}
	if opts.CheckDestination == nil {
		check, err := policycheck.AllowDestinations(append(slices.Clone(policycheck.DefaultDestinations), opts.AllowedDestinations...), opts.Egress)
		if err != nil {
			return err
		}
		opts.CheckDestination = check
	}
	expressions := routing.NewExpressionCache()
	renderers := &rendererCache{}
	transport := &receiver.Transport{
		HTTP:    &notify.HTTP{Client: opts.HTTPClient, UserAgent: opts.UserAgent},
		Mailer:  opts.Mail.mailer(mgr.GetAPIReader()),
		Secrets: receiver.SecretReader{Reader: newSecretCache(mgr.GetAPIReader(), opts.Clock)},
		// Every other destination comes from a Secret labelled for the
		// operator. The policy's Ready condition says why a URL is not
		// allowed; delivery only needs to know.
		DestinationAllowed: func(url string) bool { return opts.CheckDestination(url) == nil },
		Now:                opts.Clock.Now,
	}
	stateSource.Store(&stateReader{reader: mgr.GetCache(), clock: opts.Clock})
	trails := &Audit{Log: &AuditLog{Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Key: opts.LogKey, Clock: opts.Clock, Origin: opts.LogOrigin}}
	if opts.Archive != nil {
		trails.Log.Archiver = newAuditArchiver(&AuditArchiver{Writer: opts.Archive, Reader: mgr.GetAPIReader(), Origin: trails.Log.originPrefix(), Namespaces: opts.WatchNamespaces})
		if err := mgr.Add(trails.Log.Archiver); err != nil {
			return err
		}
	}
	if w := opts.Witness; w != nil {
		submitter := &AuditWitness{Log: trails.Log, URL: w.URL, Verifier: w.Verifier, HTTP: opts.HTTPClient, Archive: opts.Archive, Clock: opts.Clock, Interval: w.Interval}
		if err := mgr.Add(submitter); err != nil {
			return err
		}
	}
	wakeups := newIncidentWakeups()
	events := eventRecorder{recorder: mgr.GetEventRecorder("incident-operator"), scheme: mgr.GetScheme(), warningsOnly: opts.WarningEventsOnly}
	exporter, err := addAuditExporter(mgr, opts, transport.HTTP, events)
	if err != nil {
		return err
	}
	trails.Exporter = exporter
	deliveries := newDeliveryDispatch(ctx, opts.Clock.Now, wakeups,
		opts.DeliveryConcurrency, opts.NamespaceDeliveryConcurrency, opts.ReceiverDeliveryConcurrency)
	policies := &EscalationPolicyReconciler{
		Client:      mgr.GetClient(),
		Secrets:     receiver.SecretReader{Reader: mgr.GetAPIReader()},
		Expressions: expressions,
		Renderers:   renderers,
		Clock:       opts.Clock,
		Checks: policycheck.Environment{
			MailConfigured:   opts.Mail != nil,
			CheckDestination: opts.CheckDestination,
			Expression:       routing.ValidateExpression,
			Template:         notify.CheckTemplate,
		},
	}
	policies.Namespaces = newWatchedNamespaces(opts.WatchNamespaces)
	if err := policies.SetupWithManager(mgr); err != nil {
		return err
	}
	if len(opts.WatchNamespaces) == 0 {
		if err := (&ClusterEscalationPolicyReconciler{EscalationPolicyReconciler: policies, OperatorNamespace: opts.OperatorNamespace}).SetupWithManager(mgr); err != nil {
			return err
		}
		// A regime is cluster-wide: its status is written by the operator
		// that watches the whole cluster, as a cluster policy's is.
		if err := (&RegulatoryRegimeReconciler{Client: mgr.GetClient(), Clock: opts.Clock}).SetupWithManager(mgr); err != nil {
			return err
		}
	}
	if err := (&IncidentReconciler{
		Client:                  mgr.GetClient(),
		Events:                  events,
		Clock:                   opts.Clock,
		Expressions:             expressions,
		Transport:               transport,
		Renderers:               renderers,
		PolicySets:              newPolicySets(),
		Verdicts:                newVerdicts(policies.Checks),
		Namespaces:              policies.Namespaces,
		OperatorNamespace:       opts.OperatorNamespace,
		Sent:                    newSentLedger().dispatching(deliveries),
		Wakeups:                 wakeups,
		Backoff:                 opts.Backoff,
		MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
		DeliveryConcurrency:     opts.DeliveryConcurrency,
		Audit:                   trails,
		DefaultRegimes:          opts.DefaultRegimes,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	// A report still covers the incidents retention archived and removed.
	var retainedIncidents RetainedIncidents
	if opts.Archive != nil {
		retainedIncidents = &retained.Reader{Store: opts.Archive.Store(), Origin: trails.Log.originPrefix()}
	}
	if err := (&IncidentReportReconciler{
		Client:         mgr.GetClient(),
		Events:         eventRecorder{recorder: mgr.GetEventRecorder("incident-operator"), scheme: mgr.GetScheme(), warningsOnly: opts.WarningEventsOnly},
		Clock:          opts.Clock,
		Transport:      transport,
		Backoff:        opts.Backoff,
		MailConfigured: opts.Mail != nil,
		Sent:           newSentLedger(),
		Documents:      &documentCache{},
		Retained:       retainedIncidents,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&EvidenceReconciler{Client: mgr.GetClient(), Clock: opts.Clock}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&FilingReconciler{Client: mgr.GetClient(), Clock: opts.Clock}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&PolicyTestReconciler{Client: mgr.GetClient(), Clock: opts.Clock, Events: events, Checks: policies.Checks, Namespaces: policies.Namespaces}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&DepartmentReconciler{Client: mgr.GetClient(), Clock: opts.Clock}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&RetentionReconciler{Client: mgr.GetClient(), Log: trails.Log, Archive: opts.Archive, Clock: opts.Clock, Events: events}).SetupWithManager(mgr); err != nil {
		return err
	}
	return (&AssetReconciler{Client: mgr.GetClient(), Clock: opts.Clock}).SetupWithManager(mgr)
}
