package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	notificationsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "incidentops_notifications_total",
		Help: "Notification delivery attempts, by channel and result (delivered, failed, abandoned).",
	}, []string{"channel", "result"})

	notificationDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "incidentops_notification_duration_seconds",
		Help:    "Time taken by one notification delivery attempt, by channel.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
	}, []string{"channel"})

	incidentsRouted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "incidentops_incidents_routed_total",
		Help: "Incidents routed, by result (matched, unmatched).",
	}, []string{"result"})

	auditSigningKeyMissing = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "incidentops_audit_signing_key_missing",
		Help: "1 while the operator appends no audit log entry, and so records no incident change, because its audit log key Secret is missing or holds no key; its log says what to do.",
	})

	auditExportLag = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "incidentops_audit_export_lag_entries",
		Help: "Entries of the namespaces' audit logs that the audit sink (--audit-sink-url) has not acknowledged yet, over every namespace; 0 when it has them all or no sink is set.",
	}, exportLag)

	auditExportFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "incidentops_audit_export_failures_total",
		Help: "Attempts to send a namespace's audit log batch to the audit sink that failed (refused, not answered in time, or not read); each namespace tries again with a backoff of its own.",
	})
)

func init() {
	metrics.Registry.MustRegister(notificationsTotal, notificationDuration, incidentsRouted,
		stateCollector{}, timeToAcknowledge, timeToResolve, auditSigningKeyMissing, auditExportLag, auditExportFailures)
}
