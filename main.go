// Command manager runs the incident operator.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"
	// Calendars name IANA zones such as Europe/London; the image has no
	// zoneinfo, so the binary carries its own (about 450 KB).
	_ "time/tzdata"

	"k8s.io/apimachinery/pkg/types"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
	"github.com/incidentops/incident-operator/controllers"
	"github.com/incidentops/incident-operator/internal/archive"
	"github.com/incidentops/incident-operator/internal/delivery"
	"github.com/incidentops/incident-operator/internal/notify"
	"github.com/incidentops/incident-operator/internal/policycheck"
	"github.com/incidentops/incident-operator/internal/version"
	"github.com/incidentops/incident-operator/internal/witness"
)

// smtpFlags are the operator-wide settings of the email channel.
type smtpFlags struct {
	address, from, security, credentialsSecret, caFile string
	timeout                                            time.Duration
}

func (f *smtpFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.address, "smtp-address", "", "host:port of the SMTP submission server for email receivers; empty disables email.")
	fs.StringVar(&f.from, "smtp-from", "", "Sender of notification mail, such as \"Incidents <incidents@example.org>\".")
	fs.StringVar(&f.security, "smtp-security", "starttls", "starttls (port 587), tls (implicit TLS, port 465) or none (a relay on loopback; never sends credentials).")
	fs.StringVar(&f.credentialsSecret, "smtp-credentials-secret", "", "namespace/name of a Secret with keys username and password for SMTP AUTH; read at each send.")
	fs.StringVar(&f.caFile, "smtp-ca-file", "", "PEM file of CA certificates that verify the SMTP server, instead of the system pool.")
	fs.DurationVar(&f.timeout, "smtp-timeout", 30*time.Second, "Bound on one SMTP delivery: connect, hand over, quit.")
}

// options validates the flags; nil means email is off.
func (f *smtpFlags) options() (*controllers.MailOptions, error) {
	if f.address == "" {
		return nil, nil
	}
	if f.from == "" {
		return nil, errors.New("--smtp-from is required with --smtp-address")
	}
	security, err := notify.ParseMailSecurity(f.security)
	if err != nil {
		return nil, fmt.Errorf("--smtp-security: %w", err)
	}
	opts := &controllers.MailOptions{Server: notify.MailServer{Addr: f.address, From: f.from, Security: security, Timeout: f.timeout}}
	if f.caFile != "" {
		pem, err := os.ReadFile(f.caFile)
		if err != nil {
			return nil, fmt.Errorf("--smtp-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--smtp-ca-file: %s holds no PEM certificate", f.caFile)
		}
		opts.Server.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if f.credentialsSecret != "" {
		namespace, name, ok := strings.Cut(f.credentialsSecret, "/")
		if !ok || namespace == "" || name == "" {
			return nil, fmt.Errorf("--smtp-credentials-secret=%s: want namespace/name", f.credentialsSecret)
		}
		opts.CredentialsSecret = &types.NamespacedName{Namespace: namespace, Name: name}
	}
	return opts, nil
}

func main() {
	var (
		metricsAddr          string
		metricsSecure        bool
		allowedDestinations  []string
		allowLinkLocal       bool
		allowLoopback        bool
		probeAddr            string
		pprofAddr            string
		warningEventsOnly    bool
		auditLogKeySecret    string
		auditLogOrigin       string
		archiveFlags         archiveFlags
		auditSinkURL         string
		operatorNamespace    string
		leaderElect          bool
		watchNamespaces      string
		defaultRegimes       string
		maxConcurrent        int
		deliveryConcurrency  int
		namespaceConcurrency int
		receiverConcurrency  int
		leaderElectionNS     string
		backoff              = delivery.DefaultBackoff
		leaseDuration        time.Duration
		renewDeadline        time.Duration
		retryPeriod          time.Duration
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8443", "Address the Prometheus metrics endpoint binds to; 0 disables it.")
	flag.BoolVar(&metricsSecure, "metrics-secure", true, "Serve metrics over HTTPS to callers the API server authenticates (TokenReview) and allows to get /metrics (SubjectAccessReview); false serves plain HTTP to anyone who can connect.")
	flag.Func("allowed-destination", "A URL prefix, such as https://pagerduty.internal/, that a policy may name itself as pagerDuty.url, besides PagerDuty's own Events API; repeat for more. Every other destination comes from a Secret labelled "+securityv1alpha1.NotificationSecretLabel+"=true.", func(v string) error {
		if err := policycheck.ValidateAllowedDestination(v); err != nil {
			return fmt.Errorf("%q cannot be an allowed destination: %w", v, err)
		}
		allowedDestinations = append(allowedDestinations, v)
		return nil
	})
	flag.BoolVar(&allowLinkLocal, "allow-link-local-destinations", false, "Let receivers reach link-local addresses (169.254.0.0/16, fe80::/10) and cloud metadata addresses, where clouds serve instance metadata and credentials; refused by default, however they are written.")
	flag.BoolVar(&allowLoopback, "allow-loopback-destinations", false, "Let receivers reach loopback (127.0.0.0/8, ::1) and unspecified (0.0.0.0/8, ::) addresses, which reach the operator's own pod; refused by default, however they are written. For tests and local development.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address the liveness and readiness probes bind to.")
	flag.BoolVar(&warningEventsOnly, "warning-events-only", false, "Emit only Warning events; the Normal ones (Routed, NotificationSent, Acknowledged, Resolved) cost one API write per incident.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "", "Address of the Go pprof endpoints, for profiling; empty disables them.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader, so that only one replica works at a time.")
	flag.StringVar(&leaderElectionNS, "leader-election-namespace", "", "Namespace of the leader-election Lease; defaults to the operator's own.")
	flag.DurationVar(&leaseDuration, "leader-elect-lease-duration", 3*time.Second, "How long a lost leader's lease blocks the other replicas: a leader that dies is replaced within this and the retry period.")
	flag.DurationVar(&renewDeadline, "leader-elect-renew-deadline", 2*time.Second, "How long the leader keeps trying to renew before it gives up and exits; an API server outage longer than this restarts the operator, losing nothing.")
	flag.DurationVar(&retryPeriod, "leader-elect-retry-period", 500*time.Millisecond, "How often replicas try to acquire or renew the lease.")
	flag.StringVar(&watchNamespaces, "watch-namespaces", "", "Comma-separated namespaces to watch; empty watches all.")
	flag.StringVar(&defaultRegimes, "default-regimes", "uk-gdpr", "Comma-separated RegulatoryRegimes that apply to every incident their appliesTo describes, whatever its policies name; one not installed applies to nothing. Empty applies only what policies name.")
	flag.IntVar(&maxConcurrent, "max-concurrent-reconciles", 32, "Incidents worked on at once; most of a reconcile is waiting on the API server and receivers.")
	flag.IntVar(&deliveryConcurrency, "delivery-concurrency", 4, "Parallel deliveries of one incident.")
	flag.IntVar(&namespaceConcurrency, "namespace-delivery-concurrency", 32, "Deliveries in flight for the incidents of one namespace; receivers that hang in one namespace hold these, never another namespace's.")
	flag.IntVar(&receiverConcurrency, "receiver-delivery-concurrency", 16, "Deliveries in flight to one receiver, so that one that hangs leaves its namespace's other receivers room.")
	flag.DurationVar(&backoff.Initial, "retry-initial-delay", backoff.Initial, "Wait before the first retry of a failed delivery; it doubles with each failure.")
	flag.DurationVar(&backoff.Max, "retry-max-delay", backoff.Max, "Longest wait between retries of a failed delivery.")
	var smtp smtpFlags
	flag.StringVar(&auditLogKeySecret, "audit-log-key-secret", "incident-operator-system/incident-operator-audit-log-key", "NAMESPACE/NAME of the Secret holding the Ed25519 key (key \"signer\", a note signer key) that signs the checkpoints of every namespace's audit log; its public key is published in the ConfigMap of the same name and namespace. Created only while no audit log exists; missing later, it is never replaced: nothing is signed, so no incident change is recorded, until it is restored (read again within 30 seconds). Only the operator should be able to read it.")
	archiveFlags.bind(flag.CommandLine)
	flag.StringVar(&auditLogOrigin, "audit-log-origin", "incident-operator", "Prefix of every namespace's audit log name in its checkpoints (<origin>/<namespace>): name the cluster, such as incidents.example.org/prod, so that a witness tells its logs from another cluster's.")
	flag.StringVar(&auditSinkURL, "audit-sink-url", "", "URL that every namespace's audit log is POSTed to, batch by batch, as JSON lines (a SIEM's HTTP collector), at least once, with an Idempotency-Key of <namespace>/<first>-<last>, so that deleting objects in the cluster cannot hide what the log said; how far each namespace is exported is kept in the ConfigMap "+controllers.AuditExportCursors+" of --operator-namespace. Empty disables it.")
	flag.StringVar(&operatorNamespace, "operator-namespace", "incident-operator-system", "The operator's own namespace: the Secrets that ClusterEscalationPolicies' receivers name are read from it.")
	smtp.bind(flag.CommandLine)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	showVersion := flag.Bool("version", false, "Print the version and commit the binary was built from, and exit.")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.String())
		return
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	log := ctrl.Log.WithName("setup")
	mail, err := smtp.options()
	if err != nil {
		log.Error(err, "Invalid SMTP settings")
		os.Exit(2)
	}
	if backoff.Initial <= 0 || backoff.Max < backoff.Initial {
		log.Error(errors.New("--retry-initial-delay must be positive and at most --retry-max-delay"), "Invalid retry settings")
		os.Exit(2)
	}

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(securityv1alpha1.AddToScheme(scheme))

	cacheOpts := cache.Options{
		// The operator never reads managed fields; dropping them halves the
		// memory an incident takes in the cache.
		DefaultTransform: cache.TransformStripManagedFields(),
	}
	if watchNamespaces != "" {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range splitList(watchNamespaces) {
			cacheOpts.DefaultNamespaces[ns] = cache.Config{}
		}
	}

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:                        scheme,
		Cache:                         cacheOpts,
		Metrics:                       metricsOptions(metricsAddr, metricsSecure),
		HealthProbeBindAddress:        probeAddr,
		PprofBindAddress:              pprofAddr,
		LeaderElection:                leaderElect,
		LeaderElectionID:              leaderElectionID,
		LeaderElectionNamespace:       leaderElectionNS,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &leaseDuration,
		RenewDeadline:                 &renewDeadline,
		RetryPeriod:                   &retryPeriod,
	})
	if err != nil {
		log.Error(err, "Creating manager")
		os.Exit(1)
	}

	ctx := ctrl.SetupSignalHandler()
	logKey, logKeyWatch, err := loadLogKey(ctx, mgr, auditLogKeySecret, auditLogOrigin)
	if err != nil {
		log.Error(err, "Loading the audit log key")
		os.Exit(1)
	}
	utilruntime.Must(mgr.Add(logKeyWatch))
	if leaderElect {
		guard, err := installGuard(mgr, leaderElectionNS)
		if err != nil {
			log.Error(err, "Finding the leader-election namespace")
			os.Exit(1)
		}
		if err := guard.Check(ctx); err != nil {
			log.Error(err, "Refusing to start")
			os.Exit(1)
		}
		utilruntime.Must(mgr.Add(guard))
	}
	var auditSink *notify.WebhookTarget
	if auditSinkURL != "" {
		auditSink = &notify.WebhookTarget{URL: auditSinkURL}
	}
	auditArchive, err := archiveFlags.writer(ctx)
	if err != nil {
		log.Error(err, "Opening the audit archive")
		os.Exit(1)
	}
	auditWitness, err := archiveFlags.witness()
	if err != nil {
		log.Error(err, "Configuring the audit witness")
		os.Exit(1)
	}
	if err := controllers.Setup(ctx, mgr, controllers.Options{
		Archive:                      auditArchive,
		Witness:                      auditWitness,
		LogKey:                       logKey,
		LogOrigin:                    auditLogOrigin,
		AuditSink:                    auditSink,
		MaxConcurrentReconciles:      maxConcurrent,
		DeliveryConcurrency:          deliveryConcurrency,
		NamespaceDeliveryConcurrency: namespaceConcurrency,
		ReceiverDeliveryConcurrency:  receiverConcurrency,
		UserAgent:                    "incident-operator",
		Mail:                         mail,
		WarningEventsOnly:            warningEventsOnly,
		Backoff:                      backoff,
		AllowedDestinations:          allowedDestinations,
		Egress:                       notify.Egress{AllowLinkLocal: allowLinkLocal, AllowLoopback: allowLoopback},
		OperatorNamespace:            operatorNamespace,
		WatchNamespaces:              slices.Collect(maps.Keys(cacheOpts.DefaultNamespaces)),
		DefaultRegimes:               splitList(defaultRegimes),
	}); err != nil {
		log.Error(err, "Setting up controllers")
		os.Exit(1)
	}
	utilruntime.Must(mgr.AddHealthzCheck("healthz", healthz.Ping))
	utilruntime.Must(mgr.AddReadyzCheck("informers", cachesSynced(mgr.GetCache())))

	log.Info("Starting manager", "watchNamespaces", watchNamespaces, "leaderElect", leaderElect, "smtpAddress", smtp.address)
	if err := mgr.Start(ctx); err != nil {
		log.Error(err, "Running manager")
		os.Exit(1)
	}
}

// leaderElectionID names the Lease that the replicas of one installation
// elect their leader with, in the installation's namespace.
const leaderElectionID = "incident-operator.security.incidentops.io"

// installGuard keeps the operator from running beside another installation
// in the cluster. Its Lease is in namespace, or, when that is empty, in the
// namespace of the Pod's ServiceAccount, as controller-runtime places it.
func installGuard(mgr ctrl.Manager, namespace string) (*controllers.InstallGuard, error) {
	if namespace == "" {
		data, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
		if err != nil {
			return nil, fmt.Errorf("--leader-election-namespace is unset and the operator is not in a Pod: %w", err)
		}
		namespace = strings.TrimSpace(string(data))
	}
	return &controllers.InstallGuard{Reader: mgr.GetAPIReader(), LeaseName: leaderElectionID, LeaseNamespace: namespace,
		Interval: 10 * time.Second, Clock: clock.RealClock{}}, nil
}

// archiveFlags say where the audit logs are archived, and which witness
// cosigns their checkpoints.
type archiveFlags struct {
	location, endpoint, region string
	pathStyle                  bool
	retention                  time.Duration
	witnessURL, witnessKey     string
	witnessInterval            time.Duration
}

func (f *archiveFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.location, "audit-archive", "", "Where every namespace's audit log is copied, write once: a directory (a PersistentVolume), or s3://bucket/prefix; empty archives nothing. S3 credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.")
	fs.StringVar(&f.endpoint, "audit-archive-s3-endpoint", "", "URL of the S3-compatible server, such as https://minio.example.org; empty for AWS.")
	fs.StringVar(&f.region, "audit-archive-s3-region", "us-east-1", "Region of the S3 bucket.")
	fs.BoolVar(&f.pathStyle, "audit-archive-s3-path-style", false, "Name the bucket in the URL's path, as most S3-compatible servers other than AWS want.")
	fs.StringVar(&f.witnessURL, "audit-witness-url", "", "Submission URL of a C2SP tlog-witness (such as cmd/witness, run by another team) that cosigns every namespace's audit log checkpoint only if it extends the last one it cosigned; configure it with the log key's public key for <--audit-log-origin>/*. Empty submits to none.")
	fs.StringVar(&f.witnessKey, "audit-witness-key", "", "The witness's public key (a note verifier key, as witness keygen prints it); required with --audit-witness-url.")
	fs.DurationVar(&f.witnessInterval, "audit-witness-interval", time.Minute, "How often every namespace's newest checkpoint is submitted to the witness; incidentops_audit_witness_cosigned_timestamp_seconds says when the last cosignature came.")
	fs.DurationVar(&f.retention, "audit-archive-retention", 0, "How long each archived object is locked (S3 Object Lock, COMPLIANCE mode) from when it is written, on a bucket with Object Lock; 0 locks nothing.")
}

// writer opens the archive; nil when none is configured.
func (f *archiveFlags) writer(ctx context.Context) (*archive.Writer, error) {
	var store archive.Store
	switch {
	case f.location == "":
		return nil, nil
	case strings.HasPrefix(f.location, "s3://"):
		s3, err := archive.NewS3(ctx, archive.S3Config{URL: f.location, Endpoint: f.endpoint, Region: f.region, PathStyle: f.pathStyle,
			AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"), SessionToken: os.Getenv("AWS_SESSION_TOKEN")})
		if err != nil {
			return nil, fmt.Errorf("--audit-archive=%s: %w", f.location, err)
		}
		store = s3
	default:
		dir, err := archive.NewDir(f.location)
		if err != nil {
			return nil, fmt.Errorf("--audit-archive=%s: %w", f.location, err)
		}
		store = dir
	}
	if f.retention < 0 {
		return nil, fmt.Errorf("--audit-archive-retention=%s: want 0 or more", f.retention)
	}
	return archive.NewWriter(store, f.retention, clock.RealClock{}), nil
}

// witness is the witness to submit to; nil when none is configured.
func (f *archiveFlags) witness() (*controllers.WitnessOptions, error) {
	if f.witnessURL == "" {
		if f.witnessKey != "" {
			return nil, errors.New("--audit-witness-key needs --audit-witness-url")
		}
		return nil, nil
	}
	if f.witnessKey == "" {
		return nil, errors.New("--audit-witness-url needs --audit-witness-key: the witness's public key")
	}
	verifier, err := witness.NewVerifier(f.witnessKey)
	if err != nil {
		return nil, fmt.Errorf("--audit-witness-key: %w", err)
	}
	if f.witnessInterval <= 0 {
		return nil, fmt.Errorf("--audit-witness-interval=%s: want more than 0", f.witnessInterval)
	}
	return &controllers.WitnessOptions{URL: f.witnessURL, Verifier: verifier, Interval: f.witnessInterval}, nil
}

// loadLogKey reads the audit log key before the manager's cache starts,
// creating the Secret on a first install and publishing the public key,
// and returns the watch that keeps the key as the Secret says from then on.
func loadLogKey(ctx context.Context, mgr ctrl.Manager, ref, origin string) (*controllers.LogKey, *controllers.LogKeyWatch, error) {
	namespace, name, ok := strings.Cut(ref, "/")
	if !ok || namespace == "" || name == "" {
		return nil, nil, fmt.Errorf("--audit-log-key-secret=%q: want NAMESPACE/NAME", ref)
	}
	if origin == "" || strings.ContainsAny(origin, " \n+") {
		return nil, nil, fmt.Errorf("--audit-log-origin=%q: want a name without spaces or '+', such as incidents.example.org/prod", origin)
	}
	c, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme()})
	if err != nil {
		return nil, nil, err
	}
	setup := controllers.LogKeySetup{
		Secret:    types.NamespacedName{Namespace: namespace, Name: name},
		ConfigMap: types.NamespacedName{Namespace: namespace, Name: name},
		Origin:    origin,
	}
	key, err := controllers.LoadLogKey(ctx, c, setup)
	if err != nil {
		return nil, nil, err
	}
	return key, &controllers.LogKeyWatch{Reader: mgr.GetAPIReader(), Setup: setup, Key: key}, nil
}

// metricsOptions serves metrics, by default only to callers the API server
// authenticates and authorises, as current kubebuilder scaffolds do: the
// metrics name namespaces and receivers.
func metricsOptions(addr string, secure bool) metricsserver.Options {
	opts := metricsserver.Options{BindAddress: addr, SecureServing: secure}
	if secure {
		opts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	return opts
}

// cachesSynced is a readiness check that fails until every informer has
// synced, so that a replica is not ready while it cannot see the objects it
// works on.
func cachesSynced(c cache.Cache) healthz.Checker {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), 200*time.Millisecond)
		defer cancel()
		if !c.WaitForCacheSync(ctx) {
			return errors.New("informer caches have not synced")
		}
		return nil
	}
}

// splitList is the non-empty items of a comma-separated flag.
func splitList(flagValue string) []string {
	var items []string
	for _, item := range strings.Split(flagValue, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}
