package controllers

import dto "github.com/prometheus/client_model/go"

// AuditExportFailures is incidentops_audit_export_failures_total, for the
// tests of the export outside the package.
func AuditExportFailures() float64 {
	var m dto.Metric
	_ = auditExportFailures.Write(&m)
	return m.GetCounter().GetValue()
}
