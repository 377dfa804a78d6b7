package report

// The control document's columns, defined once: the CSV, Markdown and XLSX
// writers and the import all read this table, so they cannot disagree on
// the order, the names or what a cell holds.

import (
	"time"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// A cell value is one of: string, time.Time (zero is blank), float64
// (hours or days), int, bool, or nil for a blank cell.
type value = any

// A column of the control document.
type column struct {
	name  string
	width float64 // in characters, for the XLSX
	get   func(*Row) value
	// set takes the cell of an imported row, already parsed to the
	// column's kind; nil for a column the operator derives.
	set  func(*Row, value)
	kind kind
	// derived says why an import does not take the column.
	derived string
}

// kind is what a column's cells hold, and so how an import parses them.
type kind int

const (
	kindText kind = iota
	kindList
	kindTime
	kindBool
	kindNumber
)

const (
	fromStatus       = "the operator works it out"
	fromAsset        = "it comes from the Assets the incident names"
	fromAPI          = "the API server records the account"
	noSupplierRef    = "the Incident API has no field for the supplier's reference"
	timeFromOperator = "the operator records the time when it sees the change; the Incident API has no field for an earlier one"
)

// columns are the control document's columns in order: the ones the
// spreadsheet kept (STW 4.1, 4.2, 5.1–5.3), and what the policies ask to
// be recorded (SH 4.3, 5).
var columns = []column{
	{name: "Namespace", width: 14, get: func(r *Row) value { return r.Namespace }, set: func(r *Row, v value) { r.Namespace = v.(string) }},
	{name: "Name", width: 28, get: func(r *Row) value { return r.Name }, set: func(r *Row, v value) { r.Name = v.(string) }},
	{name: "Reported at", width: 17, kind: kindTime, get: func(r *Row) value { return r.ReportedAt }, set: func(r *Row, v value) { r.ReportedAt = v.(time.Time) }},
	{name: "Aware at", width: 17, kind: kindTime, get: func(r *Row) value { return r.AwareAt }, set: func(r *Row, v value) { r.AwareAt = v.(time.Time) }},
	{name: "Type", width: 10, get: func(r *Row) value { return string(r.Type) }, set: func(r *Row, v value) { r.Type = securityv1alpha1.IncidentType(v.(string)) }},
	{name: "Title", width: 40, get: func(r *Row) value { return r.Title }, set: func(r *Row, v value) { r.Title = v.(string) }},
	{name: "Description", width: 50, get: func(r *Row) value { return r.Description }, set: func(r *Row, v value) { r.Description = v.(string) }},
	{name: "Category", width: 20, get: func(r *Row) value { return string(r.Category) }, set: func(r *Row, v value) { r.Category = securityv1alpha1.IncidentCategory(v.(string)) }},
	{name: "Severity", width: 10, get: func(r *Row) value { return string(r.Severity) }, set: func(r *Row, v value) { r.Severity = securityv1alpha1.Severity(v.(string)) }},
	{name: "Reporter", width: 20, get: func(r *Row) value { return r.Reporter }, set: func(r *Row, v value) { r.Reporter = v.(string) }},
	{name: "Reporter email", width: 26, get: func(r *Row) value { return r.ReporterEmail }, set: func(r *Row, v value) { r.ReporterEmail = v.(string) }},
	{name: "Reported by account", width: 20, get: func(r *Row) value { return r.ReportedBy }, derived: fromAPI},
	{name: "Department", width: 18, get: func(r *Row) value { return r.Department }, set: func(r *Row, v value) { r.Department = v.(string) }},
	{name: "System or asset", width: 24, kind: kindList, get: func(r *Row) value { return r.Assets }, set: func(r *Row, v value) { r.Assets = v.([]string) }},
	{name: "Supplier", width: 20, kind: kindList, get: func(r *Row) value { return r.Suppliers }, derived: fromAsset},
	{name: "Supplier contacted via", width: 36, kind: kindList, get: func(r *Row) value { return r.SupplierContacts }, derived: fromAsset},
	{name: "Supplier reference", width: 16, get: func(r *Row) value { return r.SupplierReference }, derived: noSupplierRef},
	{name: "Business critical", width: 9, kind: kindBool, get: func(r *Row) value { return r.BusinessCritical }, set: func(r *Row, v value) { r.BusinessCritical = v.(bool) }},
	{name: "Security breach", width: 9, kind: kindBool, get: func(r *Row) value { return r.SecurityBreach }, set: func(r *Row, v value) { r.SecurityBreach = v.(bool) }},
	{name: "Personal data", width: 9, kind: kindBool, get: func(r *Row) value { return r.PersonalData }, set: func(r *Row, v value) { r.PersonalData = v.(bool) }},
	{name: "Major", width: 8, kind: kindBool, get: func(r *Row) value { return r.Major }, derived: fromStatus},
	{name: "Escalation level", width: 10, kind: kindNumber, get: func(r *Row) value { return int(r.EscalationLevel) }, derived: fromStatus},
	{name: "Escalated to", width: 30, kind: kindList, get: func(r *Row) value { return r.EscalatedTo }, derived: fromStatus},
	{name: "Acknowledged at", width: 17, kind: kindTime, get: func(r *Row) value { return r.AcknowledgedAt }, derived: timeFromOperator},
	{name: "Acknowledged by", width: 20, get: func(r *Row) value { return r.AcknowledgedBy }, set: func(r *Row, v value) { r.AcknowledgedBy = v.(string) }},
	{name: "Acknowledged by account", width: 20, get: func(r *Row) value { return r.AcknowledgedByAccount }, derived: fromAPI},
	{name: "Resolved at", width: 17, kind: kindTime, get: func(r *Row) value { return r.ResolvedAt }, derived: timeFromOperator},
	{name: "Resolved by", width: 20, get: func(r *Row) value { return r.ResolvedBy }, set: func(r *Row, v value) { r.ResolvedBy = v.(string) }},
	{name: "Resolved by account", width: 20, get: func(r *Row) value { return r.ResolvedByAccount }, derived: fromAPI},
	{name: "Resolution", width: 14, get: func(r *Row) value { return string(r.Resolution) }, set: func(r *Row, v value) { r.Resolution = securityv1alpha1.ResolutionState(v.(string)) }},
	{name: "Resolution summary", width: 40, get: func(r *Row) value { return r.ResolutionSummary }, set: func(r *Row, v value) { r.ResolutionSummary = v.(string) }},
	{name: "Hours to acknowledge", width: 12, kind: kindNumber, get: func(r *Row) value { return hours(r.TimeToAcknowledge()) }, derived: fromStatus},
	{name: "Hours to resolve", width: 12, kind: kindNumber, get: func(r *Row) value { return hours(r.TimeToResolve()) }, derived: fromStatus},
	{name: "SLA met", width: 9, get: func(r *Row) value { return string(r.SLA) }, derived: fromStatus},
	{name: "Authority deadline", width: 17, kind: kindTime, get: func(r *Row) value { return r.AuthorityDeadline }, derived: fromStatus},
	{name: "Authority notified at", width: 17, kind: kindTime, get: func(r *Row) value { return r.AuthorityNotifiedAt }, set: func(r *Row, v value) { r.AuthorityNotifiedAt = v.(time.Time) }},
	{name: "Authority reference", width: 16, get: func(r *Row) value { return r.AuthorityReference }, set: func(r *Row, v value) { r.AuthorityReference = v.(string) }},
	{name: "Authority notification", width: 12, get: func(r *Row) value { return string(r.Authority) }, derived: fromStatus},
	{name: "Authority delay reason", width: 36, get: func(r *Row) value { return r.AuthorityDelay }, set: func(r *Row, v value) { r.AuthorityDelay = v.(string) }},
	{name: "Status", width: 13, get: func(r *Row) value { return string(r.Phase) }, derived: fromStatus},
}

// hours is a duration in hours, or blank when it is not known.
func hours(d time.Duration, ok bool) value { return number(d.Hours(), ok) }

// number is v, or blank when it is not known.
func number(v float64, ok bool) value {
	if !ok {
		return nil
	}
	return v
}

// listSeparator joins a list in one cell; the import splits on it, and on
// commas and new lines, which people type too.
const listSeparator = "; "

// controlTable is the control document as a table for the writers.
func controlTable(rows []Row) table {
	heads := make([]tableColumn, len(columns))
	for i, c := range columns {
		heads[i] = tableColumn{name: c.name, width: c.width}
	}
	return tableOf("Control document", heads, rows, func(r *Row, i int) value { return columns[i].get(r) })
}
