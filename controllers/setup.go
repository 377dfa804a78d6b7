package controllers

import (
	"context"
	"net/http"

	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/incidentops/incident-operator/internal/notify"
	"github.com/incidentops/incident-operator/internal/routing"
)

// Options configures the operator's controllers.
type Options struct {
	// Clock drives every timestamp and retry; tests inject a fake one.
	Clock clock.Clock
	// HTTPClient sends webhook, chat and PagerDuty notifications.
	HTTPClient *http.Client
	// Backoff is the retry schedule of failing deliveries.
	Backoff notify.Backoff
	// MaxConcurrentReconciles bounds how many incidents are worked on at once.
	MaxConcurrentReconciles int
	// DeliveryConcurrency bounds the parallel deliveries of one incident.
	DeliveryConcurrency int
	// UserAgent identifies the operator to receivers.
	UserAgent string
}

// Setup registers the field indexes and every controller with the manager.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	if opts.Backoff == (notify.Backoff{}) {
		opts.Backoff = notify.DefaultBackoff
	}
	if err := SetupIndexes(ctx, mgr); err != nil {
		return err
	}
	expressions := routing.NewExpressionCache()
	if err := (&EscalationPolicyReconciler{
		Client:       mgr.GetClient(),
		SecretReader: mgr.GetAPIReader(),
		Expressions:  expressions,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&IncidentReconciler{
		Client:                  mgr.GetClient(),
		SecretReader:            mgr.GetAPIReader(),
		Events:                  eventRecorder{recorder: mgr.GetEventRecorder("incident-operator")},
		Clock:                   opts.Clock,
		Expressions:             expressions,
		HTTP:                    &notify.HTTP{Client: opts.HTTPClient, UserAgent: opts.UserAgent},
		Backoff:                 opts.Backoff,
		MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
		DeliveryConcurrency:     opts.DeliveryConcurrency,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	return (&AssetReconciler{Client: mgr.GetClient()}).SetupWithManager(mgr)
}
