package validation_test

import (
	"time"
)

// handWritten are wrong values written by hand, not derived from the
// schema the sweep tests, so that a rule dropped from the markers, or one
// never written, shows as a case that passes the door unreported. Each is
// a value the schema once allowed: a duration below any sensible floor, a
// warning longer than its deadline, the host's time zone under another
// name, a blank where a name goes, a mail domain without a dot, an
// expression that fails on every incident without a label, a report
// whose Secret the operator may not read, a time far in the past or
// before the incident.
func handWritten(now time.Time) []explicitCase {
	var list []explicitCase
	add := func(kind string, at path, why string, values ...any) {
		for _, v := range values {
			list = append(list, explicitCase{kind: kind, at: at, value: v, why: why})
		}
	}
	policy := func(at path, why string, values ...any) {
		for _, kind := range []string{"EscalationPolicy", "ClusterEscalationPolicy"} {
			add(kind, at, why, values...)
		}
	}
	const (
		slip    = "hand: duration below its floor"
		warn    = "hand: warning longer than its deadline"
		zone    = "hand: host or alias time zone"
		blank   = "hand: blank"
		address = "hand: domain without a dot"
		expr    = "hand: expression failing without a label"
		secret  = "hand: Secret the operator may not read"
		past    = "hand: time far in the past"
		before  = "hand: time before the incident"
	)

	// 0.5ms where 5m was meant passes every "more than 0s" rule.
	policy(path{"spec", "receivers", 0, "webhook", "timeout"}, slip, "0.5ms", "500ms")
	add("EscalationPolicy", path{"spec", "escalation", "levels", 1, "after"}, slip, "0.5ms", "30s", "2m0.5s")
	policy(path{"spec", "escalation", "repeatAfter"}, slip, "0.5ms", "1h0.5s")
	sla := path{"spec", "sla", "targets", 0}
	policy(sla.with("acknowledgeWithin"), slip, "0.5ms", "4m0.5s")
	policy(sla.with("resolveWithin"), slip, "0.5ms", "30s")
	policy(sla.with("warnBefore"), slip, "0.5ms", "1m0.001s")
	policy(path{"spec", "regulatory", "authorityNotificationWithin"}, slip, "0.5ms", "30m", "71h59m59.5s")
	add("IncidentReport", path{"spec", "period"}, slip, "0.5ms", "30m", "168h0.5s")
	add("IncidentReport", path{"spec", "reviewWithin"}, slip, "0.5ms", "30s")
	add("IncidentReport", path{"spec", "receivers", 1, "webhook", "timeout"}, slip, "0.5ms")

	// The incident is at risk from the moment it is routed.
	for _, target := range []map[string]any{
		{"severities": []any{"High"}, "acknowledgeWithin": "4m", "warnBefore": "5m"},
		{"severities": []any{"High"}, "acknowledgeWithin": "1h", "warnBefore": "1h"},
		{"severities": []any{"High"}, "resolveWithin": "8h", "warnBefore": "9h"},
	} {
		for _, kind := range []string{"EscalationPolicy", "ClusterEscalationPolicy"} {
			list = append(list, explicitCase{kind: kind, at: sla, value: target, field: sla.with("warnBefore"), why: warn})
		}
	}

	// Refusing Local was meant to keep the host's zone out.
	zones := []any{"localtime", "posixrules", "Factory", "GB", "US/Eastern", "Etc/Zulu", "EST5EDT"}
	policy(path{"spec", "sla", "calendar", "timeZone"}, zone, zones...)
	add("IncidentReport", path{"spec", "timeZone"}, zone, zones...)

	// Names, reasons and locations of white space only.
	add("Department", path{"spec", "name"}, blank, "   ", "\u00a0")
	add("Department", path{"spec", "absences", 0, "reason"}, blank, " ")
	add("Asset", path{"spec", "supplier", "name"}, blank, "\t")
	add("Asset", path{"spec", "assetTag"}, blank, " ")
	add("Asset", path{"spec", "description"}, blank, "  ")
	list = append(list, explicitCase{kind: "Asset", at: path{"spec", "returnedToService"}, value: map[string]any{"at": stamp(now, -time.Hour), "by": "  "},
		field: path{"spec", "returnedToService", "by"}, why: blank})
	policy(path{"spec", "match", "assets", "suppliers", 0}, blank, "  ")
	policy(path{"spec", "receivers", 1, "template", "title"}, blank, " ")
	add("IncidentReport", path{"spec", "schedule"}, blank, "   ")
	add("Evidence", path{"spec", "storageLocation"}, blank, "   ")

	// A mail domain without a dot: the mail server guesses the rest.
	policy(path{"spec", "receivers", 1, "email", "to", 0}, address, "it-security@localhost")
	add("IncidentReport", path{"spec", "receivers", 0, "email", "to", 0}, address, "mi-manager@example")
	add("Department", path{"spec", "absences", 0, "email"}, address, "tom.okafor@example")
	add("Asset", path{"spec", "owner", "email"}, address, "priya.shah@example")

	// Ready, but failing on every incident without what it reads.
	policy(path{"spec", "match", "expression"}, expr,
		"incident.metadata.labels['team'] == 'x'",
		"incident.spec.impact.dataSubjects > 100",
		`"laptop-fin-0142" in incident.spec.assets`,
		"assets.exists(a, a.spec.supplier.name == 'Capita')")

	// Ready until its first run fails.
	ref := path{"spec", "receivers", 1, "webhook", "urlSecretRef"}
	for _, r := range []map[string]any{
		{"name": "unlabelled", "key": "url"},
		{"name": "no-such-secret", "key": "url"},
		{"name": "internal-audit-webhook", "key": "no-such-key"},
	} {
		list = append(list, explicitCase{kind: "IncidentReport", at: ref, value: r, why: secret})
	}

	// Zero values and epochs: year 1, the second before 1970, 1970.
	epochs := []any{"0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z"}
	add("Incident", path{"spec", "awareAt"}, past, epochs...)
	add("Incident", path{"spec", "reportedAt"}, past, epochs...)
	for _, at := range epochs {
		list = append(list, explicitCase{kind: "Incident", at: path{"spec", "authorityNotification"}, value: map[string]any{"notifiedAt": at},
			field: path{"spec", "authorityNotification", "notifiedAt"}, why: past})
		list = append(list, explicitCase{kind: "Asset", at: path{"spec", "returnedToService"}, value: map[string]any{"at": at, "by": "Jo Bloggs"},
			field: path{"spec", "returnedToService", "at"}, why: past})
		list = append(list, explicitCase{kind: "IncidentReport", at: path{"spec", "signOffs"}, value: []any{map[string]any{"run": at}},
			field: path{"spec", "signOffs"}, why: past})
	}
	add("Evidence", path{"spec", "collectedAt"}, past, epochs...)
	add("Evidence", path{"spec", "custody", 0, "at"}, past, epochs...)
	add("Department", path{"spec", "absences", 0, "from"}, past, epochs...)
	add("Department", path{"spec", "absences", 0, "until"}, past, epochs...)
	add("AuditTrail", path{"spec", "entries", 0, "time"}, past, "0001-01-01T00:00:00.000000Z", "1970-01-01T00:00:00.000000Z")

	// Before the incident: told before aware, aware after the report,
	// collected before anyone knew, handed over before it was collected.
	list = append(list,
		explicitCase{kind: "Incident", at: path{"spec", "authorityNotification", "notifiedAt"}, value: stamp(now, -3*time.Hour), label: "an hour before awareAt", why: before,
			also: []setting{{path{"spec", "awareAt"}, stamp(now, -2*time.Hour)}, {path{"spec", "impact", "personalData"}, true}}},
		explicitCase{kind: "Incident", at: path{"spec", "awareAt"}, value: stamp(now, -time.Hour), label: "an hour after reportedAt", why: before,
			also: []setting{{path{"spec", "reportedAt"}, stamp(now, -2*time.Hour)}}},
		// The sweep's incident was aware an hour before the sample was collected.
		explicitCase{kind: "Evidence", at: path{"spec", "collectedAt"}, value: "2026-11-19T10:30:00Z", label: "a day before the incident's awareAt", why: before},
		explicitCase{kind: "Evidence", at: path{"spec", "custody", 0, "at"}, value: "2026-11-20T09:30:00Z", label: "an hour before the item was collected", why: before},
	)
	return list
}
