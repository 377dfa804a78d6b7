package validation_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// A site is an object, or a list, that carries a rule, in one base.
type site struct {
	p    path
	node map[string]any // a copy of the object, free to change
	list []any          // a copy of the list, free to change
	rule string         // the message of the rule to break
}

// A breach is the site's object changed so that it breaks the rule.
type breach struct {
	node any
	// field is the path an answer must name; empty is the rule's own field.
	field string
	// loose lets a field below field answer for it.
	loose bool
	what  string
}

// An updateBreach breaks a transition rule by changing a stored incident.
type updateBreach struct {
	live  string
	patch func(live map[string]any) map[string]any
	field string
	what  string
}

// A breaker breaks one x-kubernetes-validations rule that compares fields
// of an object, which values derived field by field cannot. It is found by
// the start of the rule's message. Each rule of the CRDs needs one, and each
// breaker a rule: a rule added, dropped or reworded fails the sweep until
// this table follows.
type breaker struct {
	kind    string
	message string
	create  func(s site, now time.Time) []breach
	update  func(now time.Time) []updateBreach
}

var roles = []string{"Reporter", "LineManager", "AssetOwner", "SystemOwner", "Supplier"}

var channels = []string{"webhook", "slack", "teams", "pagerDuty", "email"}

// levelIndex finds the level a rule of one level names.
var levelIndex = regexp.MustCompile(`^levels\[(\d+)\]`)

var ruleBreakers = []breaker{
	{kind: "EscalationPolicy", message: "set exactly one of receiver and role", create: func(s site, _ time.Time) []breach {
		both := clone(s.node)
		if _, ok := both["receiver"]; ok {
			both["role"] = "Reporter"
		} else {
			both["receiver"] = "desk"
		}
		return []breach{{node: both, what: "receiver and role"}, {node: map[string]any{}, what: "neither receiver nor role"}}
	}},
	{kind: "EscalationPolicy", message: "a receiver needs exactly one channel", create: receiverChannels},
	{kind: "IncidentReport", message: "a receiver needs exactly one channel", create: receiverChannels},
	{kind: "EscalationPolicy", message: "repeatAfter is required when repeat is set", create: func(s site, _ time.Time) []breach {
		n := clone(s.node)
		n["repeat"] = int64(1)
		delete(n, "repeatAfter")
		return []breach{{node: n, what: "repeat 1 without repeatAfter"}}
	}},
	{kind: "EscalationPolicy", message: "levels[0].after must be 0s or unset", create: func(s site, _ time.Time) []breach {
		var out []breach
		for _, after := range []string{"1s", "1m"} {
			n := clone(s.node)
			setAt(n, path{"levels", 0, "after"}, after)
			out = append(out, breach{node: n, field: s.p.with("levels", 0, "after").String(), what: "levels[0].after " + after})
		}
		return out
	}},
	// One rule a level, each naming its level: levels[i].after must be at least 1m.
	{kind: "EscalationPolicy", message: "].after must be at least 1m", create: func(s site, _ time.Time) []breach {
		m := levelIndex.FindStringSubmatch(s.rule)
		levels, _ := s.node["levels"].([]any)
		if m == nil || len(levels) == 0 {
			return nil
		}
		i, _ := strconv.Atoi(m[1])
		for len(levels) <= i {
			next := clone(levels[len(levels)-1].(map[string]any))
			next["after"] = "1m"
			levels = append(levels, next)
		}
		var out []breach
		for _, after := range []any{removed, "0s", "59s"} {
			n := clone(s.node)
			n["levels"] = runtime.DeepCopyJSONValue(levels)
			setAt(n, path{"levels", i, "after"}, after)
			out = append(out, breach{node: n, field: s.p.with("levels", i, "after").String(), what: fmt.Sprintf("levels[%d].after %s", i, show(after))})
		}
		return out
	}},
	{kind: "EscalationPolicy", message: "retention.after must be at least 24h", create: func(s site, _ time.Time) []breach {
		var out []breach
		for _, after := range []string{"23h59m", "1h", "0s"} {
			n := clone(s.node)
			n["after"] = after
			out = append(out, breach{node: n, field: s.p.with("after").String(), what: "retention.after " + after})
		}
		return out
	}},
	{kind: "EscalationPolicy", message: "warnBefore must be shorter than acknowledgeWithin", create: func(s site, _ time.Time) []breach {
		same, longer := clone(s.node), clone(s.node)
		same["acknowledgeWithin"], same["warnBefore"] = "4h", "4h"
		longer["acknowledgeWithin"], longer["warnBefore"] = "4m", "5m"
		return []breach{{node: same, what: "warnBefore as long as acknowledgeWithin"}, {node: longer, what: "warnBefore longer than acknowledgeWithin"}}
	}},
	{kind: "EscalationPolicy", message: "warnBefore must be shorter than resolveWithin", create: func(s site, _ time.Time) []breach {
		n := clone(s.node)
		delete(n, "acknowledgeWithin")
		n["resolveWithin"], n["warnBefore"] = "8h", "9h"
		return []breach{{node: n, what: "warnBefore longer than resolveWithin"}}
	}},
	{kind: "EscalationPolicy", message: "an escalation may send at most 100 notifications", create: func(s site, _ time.Time) []breach {
		n := clone(s.node)
		n["repeat"], n["repeatAfter"] = int64(10), "1h"
		notify := make([]any, 16)
		for i := range notify {
			notify[i] = map[string]any{"role": roles[i%len(roles)]}
		}
		setAt(n, path{"levels", 0, "notify"}, notify)
		// The bound is on the chain: the API server names its levels, the
		// operator the chain.
		return []breach{{node: n, field: s.p.String(), loose: true, what: "16 notify entries at level 0 and repeat 10"}}
	}},
	{kind: "EscalationPolicy", message: "every escalation.levels[].notify[].receiver must name one of spec.receivers", create: func(s site, _ time.Time) []breach {
		n := clone(s.node)
		setAt(n, path{"escalation", "levels", 0, "notify", 0}, map[string]any{"receiver": "no-such-receiver"})
		return []breach{{node: n, field: s.p.with("escalation", "levels", 0, "notify", 0, "receiver").String(), what: "a receiver the policy lacks"}}
	}},
	{kind: "EscalationPolicy", message: "every major.notify[].receiver must name one of spec.receivers", create: func(s site, _ time.Time) []breach {
		n := clone(s.node)
		setAt(n, path{"major", "notify"}, []any{map[string]any{"receiver": "no-such-receiver"}})
		return []breach{{node: n, field: s.p.with("major", "notify", 0, "receiver").String(), what: "a receiver the policy lacks"}}
	}},
	{kind: "EscalationPolicy", message: "every regulatory.notify[].receiver must name one of spec.receivers", create: func(s site, _ time.Time) []breach {
		n := clone(s.node)
		setAt(n, path{"regulatory", "notify"}, []any{map[string]any{"receiver": "no-such-receiver"}})
		return []breach{{node: n, field: s.p.with("regulatory", "notify", 0, "receiver").String(), what: "a receiver the policy lacks"}}
	}},
	{kind: "EscalationPolicy", message: "delivery.fallbackReceiver must name one of spec.receivers", create: func(s site, _ time.Time) []breach {
		n := clone(s.node)
		setAt(n, path{"delivery", "fallbackReceiver"}, "no-such-receiver")
		return []breach{{node: n, what: "a receiver the policy lacks"}}
	}},

	{kind: "Incident", message: "specialCategoryData is personal data", create: func(s site, _ time.Time) []breach {
		n := clone(s.node)
		n["specialCategoryData"], n["personalData"] = true, false
		return []breach{{node: n, what: "specialCategoryData without personalData"}}
	}},
	{kind: "Incident", message: "social-care records are personal data", create: func(s site, _ time.Time) []breach {
		n := clone(s.node)
		n["socialCare"], n["personalData"] = true, false
		return []breach{{node: n, what: "socialCare without personalData"}}
	}},
	{kind: "Incident", message: "authorityNotification.delayReason is required: the authority was told more than 72 hours after awareAt", create: func(s site, now time.Time) []breach {
		n := clone(s.node)
		n["awareAt"] = stamp(now, -100*time.Hour)
		n["authorityNotification"] = map[string]any{"notifiedAt": stamp(now, -time.Hour)}
		setAt(n, path{"impact", "personalData"}, true)
		return []breach{{node: n, what: "told 99h after awareAt without delayReason"}}
	}},
	{kind: "Incident", message: "authorityNotification.notifiedAt is before awareAt", create: func(s site, now time.Time) []breach {
		n := clone(s.node)
		n["awareAt"] = stamp(now, -2*time.Hour)
		n["authorityNotification"] = map[string]any{"notifiedAt": stamp(now, -3*time.Hour)}
		setAt(n, path{"impact", "personalData"}, true)
		return []breach{{node: n, what: "told an hour before awareAt"}}
	}},
	{kind: "Incident", message: "authorityNotification is only for incidents involving personal data", create: func(s site, now time.Time) []breach {
		n := clone(s.node)
		n["impact"] = map[string]any{"itRelated": true}
		n["authorityNotification"] = map[string]any{"notifiedAt": stamp(now, -time.Hour)}
		return []breach{{node: n, what: "without personal data"}}
	}},
	{kind: "Incident", message: "awareAt cannot be changed once set", update: func(now time.Time) []updateBreach {
		return []updateBreach{{live: liveAware, field: "spec.awareAt", what: "awareAt changed",
			patch: func(map[string]any) map[string]any { return specPatch("awareAt", stamp(now, -3*time.Hour)) }}}
	}},
	{kind: "Incident", message: "awareAt can be set only when the incident is reported, and not removed", update: func(now time.Time) []updateBreach {
		return []updateBreach{
			{live: liveUnaware, field: "spec.awareAt", what: "awareAt added after the report",
				patch: func(map[string]any) map[string]any { return specPatch("awareAt", stamp(now, -time.Hour)) }},
			{live: liveAware, field: "spec.awareAt", what: "awareAt removed",
				patch: func(map[string]any) map[string]any { return specPatch("awareAt", nil) }},
		}
	}},
	{kind: "Incident", message: "acknowledgement cannot be changed once made", update: func(time.Time) []updateBreach {
		return []updateBreach{{live: liveAware, field: "spec.acknowledgement", what: "acknowledgement note rewritten",
			patch: func(map[string]any) map[string]any {
				return specPatch("acknowledgement", map[string]any{"note": "rewritten"})
			}}}
	}},
	{kind: "Incident", message: "resolution cannot be changed once made", update: func(time.Time) []updateBreach {
		return []updateBreach{{live: liveAware, field: "spec.resolution", what: "resolution summary rewritten",
			patch: func(map[string]any) map[string]any {
				return specPatch("resolution", map[string]any{"summary": "rewritten"})
			}}}
	}},
	{kind: "Incident", message: "authorityNotification cannot be changed or removed once recorded", update: func(time.Time) []updateBreach {
		return []updateBreach{
			{live: liveAware, field: "spec.authorityNotification", what: "authority reference rewritten",
				patch: func(map[string]any) map[string]any {
					return specPatch("authorityNotification", map[string]any{"reference": "ICO-9999"})
				}},
			{live: liveAware, field: "spec.authorityNotification", what: "authority report removed",
				patch: func(map[string]any) map[string]any { return specPatch("authorityNotification", nil) }},
		}
	}},
	{kind: "Incident", message: "reportedBy is written by the API server", update: func(time.Time) []updateBreach {
		return []updateBreach{{live: liveAware, field: "spec.reportedBy", what: "reportedBy rewritten",
			patch: func(map[string]any) map[string]any {
				return specPatch("reportedBy", map[string]any{"username": "someone-else"})
			}}}
	}},
	{kind: "Incident", message: "imported is written by the API server", update: func(time.Time) []updateBreach {
		return []updateBreach{{live: liveUnaware, field: "spec.imported", what: "imported added after the report",
			patch: func(map[string]any) map[string]any {
				return specPatch("imported", map[string]any{"records": []any{"acknowledgement"}})
			}}}
	}},
	{kind: "Incident", message: "acknowledgement cannot be removed once made", update: func(time.Time) []updateBreach {
		return []updateBreach{{live: liveAware, field: "spec.acknowledgement", what: "acknowledgement removed",
			patch: func(map[string]any) map[string]any { return specPatch("acknowledgement", nil) }}}
	}},
	{kind: "Incident", message: "resolution cannot be removed", update: func(time.Time) []updateBreach {
		return []updateBreach{{live: liveAware, field: "spec.resolution", what: "resolution removed",
			patch: func(map[string]any) map[string]any { return specPatch("resolution", nil) }}}
	}},
	{kind: "Incident", message: "spec.authorityNotification.delayReason is required: the authority was told after status.authorityNotificationDeadline", update: func(time.Time) []updateBreach {
		return []updateBreach{{live: liveUnaware, field: "spec.authorityNotification.delayReason", what: "told an hour after the deadline without delayReason",
			patch: func(live map[string]any) map[string]any {
				deadline, _ := getAt(live, path{"status", "authorityNotificationDeadline"})
				at, err := time.Parse(time.RFC3339, fmt.Sprint(deadline))
				if err != nil {
					return nil
				}
				return specPatch("authorityNotification", map[string]any{"notifiedAt": at.Add(time.Hour).Format(time.RFC3339)})
			}}}
	}},

	{kind: "Incident", message: "awareAt is after reportedAt", create: func(s site, now time.Time) []breach {
		n := clone(s.node)
		reported := now.Add(-48 * time.Hour).UTC()
		n["reportedAt"] = reported.Format(time.RFC3339)
		n["awareAt"] = reported.Add(time.Hour).Format(time.RFC3339)
		return []breach{{node: n, field: s.p.with("awareAt").String(), what: "aware an hour after the report"}}
	}},
	{kind: "Incident", message: "reportedAt can be set only when the incident is reported", update: func(now time.Time) []updateBreach {
		return []updateBreach{{live: liveAware, field: "spec.reportedAt", what: "reportedAt added after the report",
			patch: func(map[string]any) map[string]any {
				return specPatch("reportedAt", now.Add(-72*time.Hour).UTC().Format(time.RFC3339))
			}}}
	}},
	{kind: "Department", message: "until must be after from", create: func(s site, _ time.Time) []breach {
		n := clone(s.node)
		n["until"] = n["from"]
		return []breach{{node: n, field: s.p.with("until").String(), what: "an absence that ends when it starts"}}
	}},

	{kind: "IncidentReport", message: "reviewEscalation needs reviewWithin", create: func(s site, _ time.Time) []breach {
		n := clone(s.node)
		delete(n, "reviewWithin")
		n["reviewEscalation"] = []any{"deputy"}
		return []breach{{node: n, what: "reviewEscalation without reviewWithin"}}
	}},
	{kind: "IncidentReport", message: "every reviewEscalation entry must name one of spec.receivers", create: func(s site, _ time.Time) []breach {
		n := clone(s.node)
		n["reviewWithin"], n["reviewEscalation"] = "48h", []any{"nobody"}
		// The API server names the list; the operator, stored earlier, the item.
		return []breach{{node: n, field: s.p.with("reviewEscalation").String(), loose: true, what: "a receiver the report lacks"}}
	}},
	{kind: "IncidentReport", message: "no receiver gets the document", create: func(s site, _ time.Time) []breach {
		n := clone(s.node)
		var all []any
		for _, r := range n["receivers"].([]any) {
			all = append(all, r.(map[string]any)["name"])
		}
		n["reviewWithin"], n["reviewEscalation"] = "48h", all
		return []breach{{node: n, what: "every receiver only told of overdue reviews"}}
	}},
	{kind: "IncidentReport", message: "the summary is several tables", create: func(s site, _ time.Time) []breach {
		n := clone(s.node)
		n["report"], n["format"] = "Summary", "CSV"
		return []breach{{node: n, what: "a summary as CSV"}}
	}},
	{kind: "IncidentReport", message: "a report's receivers carry a file", create: func(s site, _ time.Time) []breach {
		var out []breach
		for _, channel := range []string{"slack", "teams", "pagerDuty"} {
			ref := map[string]any{"name": "hook", "key": "url"}
			r := map[string]any{"name": "chat", "urlSecretRef": ref}
			if channel == "pagerDuty" {
				r = map[string]any{"routingKeySecretRef": ref}
			}
			out = append(out, breach{node: append(runtime.DeepCopyJSONValue(s.list).([]any), map[string]any{"name": "chat", channel: withoutName(r)}),
				loose: true, what: "a " + channel + " receiver"})
		}
		return out
	}},
	{kind: "IncidentReport", message: "a report's messages have a fixed text", create: func(s site, _ time.Time) []breach {
		receivers := s.list
		receivers[0].(map[string]any)["template"] = map[string]any{"title": "Weekly"}
		return []breach{{node: receivers, what: "a receiver with a template"}}
	}},

	{kind: "Evidence", message: "sha256 is required for digital evidence", create: func(s site, _ time.Time) []breach {
		n := clone(s.node)
		n["kind"] = "DiskImage"
		delete(n, "sha256")
		return []breach{{node: n, field: s.p.with("sha256").String(), what: "a disk image without its digest"}}
	}},
	{kind: "Evidence", message: "custody transfers must be numbered from 0 without gaps", create: func(s site, now time.Time) []breach {
		n := clone(s.node)
		n["custody"] = []any{map[string]any{"sequence": int64(1), "from": "a", "to": "b", "reason": "r", "at": stamp(now, -time.Hour)}}
		return []breach{{node: n, field: s.p.with("custody").String(), what: "a first transfer numbered 1"}}
	}},
	{kind: "Evidence", message: "sha256 cannot be added or removed once recorded", update: func(time.Time) []updateBreach {
		return []updateBreach{{live: liveEvidence, field: "spec.sha256", what: "digest removed",
			patch: func(map[string]any) map[string]any { return specPatch("sha256", nil) }}}
	}},
	{kind: "Evidence", message: "collectedBy is written by the API server", update: func(time.Time) []updateBreach {
		return []updateBreach{{live: liveEvidence, field: "spec.collectedBy", what: "collector removed",
			patch: func(map[string]any) map[string]any { return specPatch("collectedBy", nil) }}}
	}},
	{kind: "Evidence", message: "custody is append-only", update: func(time.Time) []updateBreach {
		return []updateBreach{{live: liveEvidence, field: "spec.custody", what: "transfers removed",
			patch: func(map[string]any) map[string]any { return specPatch("custody", []any{}) }}}
	}},
	{kind: "Evidence", message: "description cannot be changed once recorded", update: func(time.Time) []updateBreach {
		return []updateBreach{{live: liveEvidence, field: "spec.description", what: "description rewritten",
			patch: func(map[string]any) map[string]any { return specPatch("description", "A different item") }}}
	}},
	{kind: "Evidence", message: "storageLocation changes only with the custody transfer", update: func(time.Time) []updateBreach {
		return []updateBreach{{live: liveEvidence, field: "spec.storageLocation", what: "moved without a transfer",
			patch: func(map[string]any) map[string]any { return specPatch("storageLocation", "Car boot") }}}
	}},
	{kind: "Evidence", message: "a custody transfer cannot be changed once recorded", update: func(time.Time) []updateBreach {
		return []updateBreach{{live: liveEvidence, field: "spec.custody[0]", what: "a transfer's recipient rewritten",
			patch: func(live map[string]any) map[string]any {
				custody, _ := getAt(live, path{"spec", "custody"})
				list := runtime.DeepCopyJSONValue(custody).([]any)
				if len(list) == 0 {
					return nil
				}
				list[0].(map[string]any)["to"] = "Someone else"
				return specPatch("custody", list)
			}}}
	}},
	// One message on several fields: each is changed once.
	{kind: "Evidence", message: "cannot be changed once recorded", update: func(now time.Time) []updateBreach {
		var out []updateBreach
		for field, value := range map[string]any{"collectedAt": stamp(now, -2*time.Hour), "incident": "another-incident", "kind": "Log",
			"sha256": strings.Repeat("0", 64), "collectedBy": map[string]any{"username": "mallory"}} {
			out = append(out, updateBreach{live: liveEvidence, field: "spec." + field, what: field + " changed",
				patch: func(map[string]any) map[string]any { return specPatch(field, value) }})
		}
		return out
	}},

	{kind: "AuditTrail", message: "entries must be numbered without gaps from segment*256", create: func(s site, _ time.Time) []breach {
		n := clone(s.node)
		n["segment"] = int64(1)
		return []breach{{node: n, field: s.p.with("entries").String(), what: "entries 0 and 1 in segment 1"}}
	}},
	{kind: "AuditTrail", message: "detail keys are at most 63 characters", create: func(s site, _ time.Time) []breach {
		long, longer := clone(s.node), clone(s.node)
		long[strings.Repeat("k", 64)] = "v"
		longer["k"] = strings.Repeat("v", 1025)
		return []breach{{node: long, what: "a key of 64 characters"}, {node: longer, what: "a value of 1025 characters"}}
	}},
	{kind: "AuditTrail", message: "subject and segment cannot be changed", update: func(time.Time) []updateBreach {
		return []updateBreach{
			{live: liveTrail, field: "spec.subject", what: "subject changed",
				patch: func(map[string]any) map[string]any {
					return specPatch("subject", map[string]any{"kind": "Incident", "name": "another-incident", "uid": "another-uid"})
				}},
			{live: liveTrail, field: "spec.segment", what: "segment changed",
				patch: func(map[string]any) map[string]any { return specPatch("segment", int64(1)) }},
		}
	}},
	{kind: "AuditTrail", message: "entries is append-only", update: func(time.Time) []updateBreach {
		return []updateBreach{{live: liveTrail, field: "spec.entries", what: "the last entry removed",
			patch: func(live map[string]any) map[string]any {
				entries, _ := getAt(live, path{"spec", "entries"})
				list, _ := entries.([]any)
				if len(list) < 2 {
					return nil
				}
				return specPatch("entries", runtime.DeepCopyJSONValue(list[:1]))
			}}}
	}},
	{kind: "AuditTrail", message: "audit entries cannot be changed once written", update: func(time.Time) []updateBreach {
		return []updateBreach{{live: liveTrail, field: "spec.entries[1]", what: "an entry's action rewritten",
			patch: func(live map[string]any) map[string]any {
				entries, _ := getAt(live, path{"spec", "entries"})
				list := runtime.DeepCopyJSONValue(entries).([]any)
				if len(list) < 2 {
					return nil
				}
				list[1].(map[string]any)["action"] = "Acknowledged"
				return specPatch("entries", list)
			}}}
	}},
	{kind: "AuditBatch", message: "an audit batch cannot be changed once written", update: func(time.Time) []updateBreach {
		return []updateBreach{
			{live: liveBatch, field: "spec", what: "an entry rewritten",
				patch: func(live map[string]any) map[string]any {
					entries, _ := getAt(live, path{"spec", "entries"})
					text, _ := entries.(string)
					return specPatch("entries", strings.Replace(text, `"Routed"`, `"Acknowledged"`, 1))
				}},
			{live: liveBatch, field: "spec", what: "the checkpoint replaced",
				patch: func(map[string]any) map[string]any { return specPatch("checkpoint", "another\n1\nroot\n") }},
		}
	}},

	{kind: "Asset", message: "namedContact is required when contactVia is NamedContact", create: func(s site, _ time.Time) []breach {
		n := clone(s.node)
		n["contactVia"] = "NamedContact"
		delete(n, "namedContact")
		return []breach{{node: n, field: s.p.with("namedContact").String(), what: "contactVia NamedContact without namedContact"}}
	}},
	{kind: "Asset", message: "helpDesk is required when contactVia is Direct", create: func(s site, _ time.Time) []breach {
		n := clone(s.node)
		n["contactVia"] = "Direct"
		delete(n, "helpDesk")
		return []breach{{node: n, field: s.p.with("helpDesk").String(), what: "contactVia Direct without helpDesk"}}
	}},
}

// rule makes the cases that break one rule on the object at p, whose base
// value is v. Rules on a string alone are left to badStrings.
func (d *deriver) rule(s *apiextensionsv1.JSONSchemaProps, r apiextensionsv1.ValidationRule, p path, v any, now time.Time) {
	if s.Type == "string" && !strings.Contains(r.Rule, "oldSelf") {
		return
	}
	cov := d.rules
	where := strings.TrimSpace(d.kind + " " + p.String())
	cov.seen[r.Message] = where
	var b *breaker
	// The breaker of the longest message the rule's holds: "cannot be
	// changed once recorded" breaks the rules that say only that.
	for i := range ruleBreakers {
		if ruleBreakers[i].kind == d.kind && strings.Contains(r.Message, ruleBreakers[i].message) && (b == nil || len(ruleBreakers[i].message) > len(b.message)) {
			b = &ruleBreakers[i]
		}
	}
	if b == nil {
		return
	}
	// A breaker is listed under the rule's own message, so coverage can
	// find it whatever its wording after the start.
	delete(cov.seen, r.Message)
	cov.seen[b.message] = where
	field := strings.TrimPrefix(p.String()+r.FieldPath, ".")
	if b.update != nil {
		if cov.updated[b.message] {
			return
		}
		cov.updated[b.message] = true
		for _, u := range b.update(now) {
			cov.broken[b.message] = true
			d.cases = append(d.cases, badCase{
				kind: d.kind, name: fmt.Sprintf("%s %s: %s (update)", d.kind, u.field, u.what), field: u.field, exact: true,
				why: "rule", update: &update{live: u.live, patch: u.patch}, present: true,
			})
		}
		return
	}
	at := site{p: p, rule: r.Message}
	switch v := v.(type) {
	case map[string]any:
		at.node = clone(v)
	case []any:
		at.list = runtime.DeepCopyJSONValue(v).([]any)
	default:
		return
	}
	for _, br := range b.create(at, now) {
		cov.broken[b.message] = true
		f := br.field
		if f == "" {
			f = field
		}
		obj := setAt(runtime.DeepCopyJSON(d.base), p, br.node).(map[string]any)
		d.cases = append(d.cases, badCase{
			kind: d.kind, name: fmt.Sprintf("%s %s: %s", d.kind, f, br.what), field: f, exact: !br.loose,
			why: "rule", rule: b.message, object: obj, present: true,
		})
	}
}

func clone(m map[string]any) map[string]any { return runtime.DeepCopyJSON(m) }

// receiverChannels breaks the rule that a receiver, of a policy or a
// report, has exactly one channel.
func receiverChannels(s site, _ time.Time) []breach {
	none, two := clone(s.node), clone(s.node)
	for _, c := range channels {
		delete(none, c)
	}
	if _, ok := two["email"]; ok {
		two["webhook"] = map[string]any{"urlSecretRef": map[string]any{"name": "hook", "key": "url"}}
	} else {
		two["email"] = map[string]any{"to": []any{"desk@example.org"}}
	}
	return []breach{{node: none, what: "no channel"}, {node: two, what: "two channels"}}
}

// withoutName is a channel's fields: a receiver's name is its own.
func withoutName(r map[string]any) map[string]any {
	out := clone(r)
	delete(out, "name")
	return out
}

func stamp(now time.Time, offset time.Duration) string {
	return now.Add(offset).UTC().Truncate(time.Second).Format(time.RFC3339)
}

func specPatch(field string, value any) map[string]any {
	return map[string]any{"spec": map[string]any{field: value}}
}

// An explicitCase is a bad value the sweep tries whatever the schema says.
type explicitCase struct {
	kind string
	// at is where the value goes; an index of -1 appends to the list there.
	at    path
	value any
	// field is what an answer must name; nil is at.
	field path
	// label, when set, names the case instead of the value: field=label.
	label string
	why   string
	// also are values set besides, that the case needs to be wrong: an
	// awareness time for a notification before it.
	also []setting
}

// A setting is a value at a path.
type setting struct {
	at    path
	value any
}

// explicitCases are of two sorts. Values the schema cannot refuse by
// design, which the operator must find when it reconciles the object. And
// a floor of values the API server must refuse, tried even when the schema
// no longer says so: the other cases come from the schema, so a rule
// dropped from the markers would otherwise take its cases with it.
func explicitCases(kinds map[string]*kind, now time.Time) []badCase {
	receiver1 := path{"spec", "receivers", 1}
	calendar := path{"spec", "sla", "calendar"}
	var list []explicitCase
	// A ClusterEscalationPolicy's spec is an EscalationPolicy's, and the
	// operator checks both alike.
	policy := func(at path, field path, why string, values ...any) {
		for _, v := range values {
			for _, kind := range []string{"EscalationPolicy", "ClusterEscalationPolicy"} {
				list = append(list, explicitCase{kind: kind, at: at, value: v, field: field, why: why})
			}
		}
	}
	policy(path{"spec", "match", "selector"}, nil, "selector",
		map[string]any{"matchExpressions": []any{map[string]any{"key": "team", "operator": "Equals", "values": []any{"desk"}}}},
		map[string]any{"matchExpressions": []any{map[string]any{"key": "team", "operator": "In"}}},
		map[string]any{"matchExpressions": []any{map[string]any{"key": "team", "operator": "Exists", "values": []any{"desk"}}}},
		map[string]any{"matchExpressions": []any{map[string]any{"key": "bad key!", "operator": "Exists"}}},
		map[string]any{"matchLabels": map[string]any{"team": "bad value!"}},
		map[string]any{"matchLabels": map[string]any{"-team": "desk"}},
		map[string]any{"matchLabels": map[string]any{"example.org/a/b": "desk"}},
		map[string]any{"matchLabels": map[string]any{"team": strings.Repeat("a", 64)}})
	for _, v := range []any{
		map[string]any{"matchExpressions": []any{map[string]any{"key": "tier", "operator": "Sometimes"}}},
		map[string]any{"matchExpressions": []any{map[string]any{"key": "tier", "operator": "NotIn"}}},
		map[string]any{"matchLabels": map[string]any{"tier": "not a value!"}},
	} {
		list = append(list, explicitCase{kind: "ClusterEscalationPolicy", at: path{"spec", "namespaceSelector"}, value: v, why: "selector"})
	}
	policy(path{"spec", "match", "expression"}, nil, "expression",
		"1/0 == 1", "incident.spec.impact.dataSubjects > '100'", "incident.spec.nosuch == 1", "incident.spec.title",
		"incident.spec.title ==", ")", "int(incident.spec.title) > 0", "incident.metadata.labels['team'] == 1",
		"incident.spec.assets[100] == 'x'", "incident.status.phase == 'Open'")
	for _, part := range []string{"title", "body"} {
		policy(receiver1.with("template", part), receiver1.with("template"), "template",
			"{{range 300000000}}{{end}}", "{{.Nope}}", "{{", "{{end}}", `{{template "nope"}}`, "{{.Incident.Title | nosuchfunc}}")
	}
	for _, url := range []string{"http://169.254.169.254/latest/meta-data/", "https://example.org/v2/enqueue",
		"https://events.pagerduty.com.example.net/v2/enqueue", "https://user@events.pagerduty.com/v2/enqueue",
		"http://events.pagerduty.com/v2/enqueue", "https://127.0.0.1/v2/enqueue", "https://[::1]/v2/enqueue"} {
		list = append(list, explicitCase{kind: "EscalationPolicy", at: path{"spec", "receivers", -1}, why: "destination",
			value: map[string]any{"name": "pager", "pagerDuty": map[string]any{
				"routingKeySecretRef": map[string]any{"name": "pager", "key": "routing-key"}, "url": url}},
			field: path{"spec", "receivers", -1, "pagerDuty", "url"}, label: url})
	}
	policy(calendar.with("timeZone"), nil, "calendar", "Mars/Olympus_Mons", "Europe/Lndon", "America/New_York/Extra")
	policy(calendar.with("holidays", 0), nil, "calendar", "2026-02-30", "2026-13-01", "0000-00-00")
	policy(calendar.with("closes"), nil, "calendar", "24:30", "07:00")
	policy(path{"spec", "receivers", 0, "webhook", "urlSecretRef"}, nil, "secret",
		map[string]any{"name": "no-such-secret", "key": "url"},
		map[string]any{"name": "service-desk-webhook", "key": "no-such-key"},
		map[string]any{"name": "unlabelled", "key": "url"})

	// The floor.
	list = append(list,
		explicitCase{kind: "Incident", at: path{"spec", "title"}, value: "   ", why: "floor"},
		explicitCase{kind: "Incident", at: path{"spec", "awareAt"}, value: "2062-11-20T09:30:00Z", why: "floor"},
		explicitCase{kind: "Incident", at: path{"spec", "awareAt"}, value: "9999-12-31T23:59:59Z", why: "floor"},
		explicitCase{kind: "Incident", at: path{"spec", "authorityNotification", "notifiedAt"}, value: "2062-11-20T09:30:00Z", why: "floor"},
		explicitCase{kind: "EscalationPolicy", at: calendar.with("timeZone"), value: "Local", why: "floor"},
		explicitCase{kind: "EscalationPolicy", at: path{"spec", "escalation", "levels", 1, "after"}, value: "5 minutes", why: "floor"},
		explicitCase{kind: "EscalationPolicy", at: path{"spec", "regulatory", "authorityNotificationWithin"}, value: "73h", why: "floor"},
	)
	list = append(list, handWritten(now)...)

	var cases []badCase
	for _, e := range list {
		base := baseFor(kinds[e.kind].bases, e.at)
		if len(e.also) > 0 {
			base = clone(base)
			for _, a := range e.also {
				setAt(base, resolve(base, a.at), a.value)
			}
		}
		at := resolve(base, e.at)
		field := at
		if e.field != nil {
			field = resolve(base, e.field)
		}
		d := &deriver{kind: e.kind, schema: kinds[e.kind].schema, examples: kinds[e.kind].examples(), base: base}
		d.set(at, field.String(), e.value, e.why, true, true)
		switch b, _ := json.Marshal(e.value); {
		case e.label != "":
			d.cases[0].name = fmt.Sprintf("%s %s=%s", e.kind, field, show(e.label))
		case len(b) <= 120:
			// Selectors differ in the middle: name them whole.
			d.cases[0].name = fmt.Sprintf("%s %s=%s", e.kind, at, b)
		}
		cases = append(cases, d.cases...)
	}
	// A notification that arrives after the report is checked by the
	// operator: the admission policy sees only creation.
	cases = append(cases, badCase{
		kind: "Incident", name: "Incident spec.authorityNotification.notifiedAt: recorded an hour in the future (update)",
		field: "spec.authorityNotification.notifiedAt", exact: true, why: "future", present: true,
		update: &update{live: liveUnaware, patch: func(map[string]any) map[string]any {
			return specPatch("authorityNotification", map[string]any{"notifiedAt": stamp(time.Now(), time.Hour)})
		}},
	})
	return cases
}

// baseFor is the first base that has the object at's value goes into.
func baseFor(bases []map[string]any, at path) map[string]any {
	for _, b := range bases {
		if _, ok := getAt(b, resolve(b, at[:len(at)-1])); ok {
			return b
		}
	}
	return bases[0]
}

// resolve replaces an index of -1 with the length of the list there.
func resolve(obj map[string]any, p path) path {
	out := append(path{}, p...)
	for i, seg := range out {
		if seg == -1 {
			l, _ := getAt(obj, out[:i])
			list, _ := l.([]any)
			out[i] = len(list)
		}
	}
	return out
}
