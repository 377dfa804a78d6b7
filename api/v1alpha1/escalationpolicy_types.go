package v1alpha1

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ImpactMatch matches incidents on their impact flags. A flag that is set
// must equal the incident's; a flag left out matches anything.
type ImpactMatch struct {
	// +optional
	PersonalData *bool `json:"personalData,omitempty"`
	// +optional
	SpecialCategoryData *bool `json:"specialCategoryData,omitempty"`
	// +optional
	SocialCare *bool `json:"socialCare,omitempty"`
	// +optional
	ITRelated *bool `json:"itRelated,omitempty"`
	// +optional
	ServiceAffecting *bool `json:"serviceAffecting,omitempty"`
	// +optional
	BusinessCritical *bool `json:"businessCritical,omitempty"`
	// +optional
	SecurityBreach *bool `json:"securityBreach,omitempty"`
}

// PolicyMatch selects the incidents a policy applies to. Every field that is
// set must match; a policy with an empty match applies to every incident.
type PolicyMatch struct {
	// Categories the incident must be one of.
	// +kubebuilder:validation:MaxItems=15
	// +listType=set
	// +optional
	Categories []IncidentCategory `json:"categories,omitempty"`

	// Severities the incident must be one of.
	// +kubebuilder:validation:MaxItems=4
	// +listType=set
	// +optional
	Severities []Severity `json:"severities,omitempty"`

	// Types the incident must be one of: Incident, Weakness.
	// +kubebuilder:validation:MaxItems=2
	// +listType=set
	// +optional
	Types []IncidentType `json:"types,omitempty"`

	// Impact flags the incident must have.
	// +optional
	Impact *ImpactMatch `json:"impact,omitempty"`

	// Assets, when set, match an incident that names at least one Asset
	// meeting every condition set here: what the asset is, who supplies it,
	// whether it holds personal data or is business critical. An incident
	// naming a business-critical system is then routed as such without the
	// reporter saying so; status.policies[].matchedAsset names the asset.
	// Assets are read when the incident is routed: a later change to an
	// asset does not move a routed incident.
	// +optional
	Assets *AssetMatch `json:"assets,omitempty"`

	// Selector on the incident's labels.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`

	// Expression is a CEL expression over the variable `incident` that must
	// evaluate to true, for example
	// `incident.spec.impact.?dataSubjects.orValue(0) > 100`. `incident`
	// exposes metadata.name, namespace, labels and annotations, and the
	// whole spec, typed as the Incident's schema: a type error or an
	// unknown field is reported on the policy (InvalidExpression), as is an
	// expression whose worst-case cost is too high or that fails on a
	// sample incident with every field set. Optional fields, labels and
	// flags left false are absent: read them with `.?` and `orValue`, as in
	// `incident.metadata.?labels[?'team'].orValue('') == 'desk'`, or test
	// them with `has()`. An expression that fails on an incident without
	// them, such as `incident.metadata.labels['team'] == 'desk'`, is
	// reported too (ExpressionFails). The variable `assets` lists the
	// Assets the incident names that exist (metadata.name and spec, typed
	// as the Asset's schema), for example
	// `assets.exists(a, a.spec.?businessCritical.orValue(false))`.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	Expression string `json:"expression,omitempty"`
}

// AssetMatch is what one of the incident's assets must be. Every field
// that is set must hold for the same asset.
type AssetMatch struct {
	// Types the asset must be one of.
	// +kubebuilder:validation:MaxItems=8
	// +listType=set
	// +optional
	Types []AssetType `json:"types,omitempty"`

	// Suppliers the asset's supplier must be one of, by name.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=128
	// +kubebuilder:validation:items:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	// +listType=set
	// +optional
	Suppliers []string `json:"suppliers,omitempty"`

	// ContactVia is how its supplier must be contacted: Direct (through a
	// help desk) or NamedContact.
	// +optional
	ContactVia SupplierContactVia `json:"contactVia,omitempty"`

	// ClassificationAtLeast is the lowest data classification the asset
	// may hold: Public < Internal < Confidential < Restricted.
	// +optional
	ClassificationAtLeast DataClassification `json:"classificationAtLeast,omitempty"`

	// HoldsPersonalData, when set, is what the asset's holdsPersonalData
	// must be.
	// +optional
	HoldsPersonalData *bool `json:"holdsPersonalData,omitempty"`

	// BusinessCritical, when set, is what the asset's businessCritical
	// must be.
	// +optional
	BusinessCritical *bool `json:"businessCritical,omitempty"`
}

// Rank orders data classifications from Public (1) to Restricted (4); 0
// for none.
func (c DataClassification) Rank() int {
	switch c {
	case ClassificationPublic:
		return 1
	case ClassificationInternal:
		return 2
	case ClassificationConfidential:
		return 3
	case ClassificationRestricted:
		return 4
	}
	return 0
}

// WebhookReceiver delivers notifications as a JSON POST with an
// Idempotency-Key header.
type WebhookReceiver struct {
	// URLSecretRef names the Secret key holding the URL. URLs often carry a
	// token, so they are never written in the policy itself.
	// +required
	URLSecretRef SecretKeyReference `json:"urlSecretRef"`

	// SigningSecretRef names the Secret key holding an HMAC key. When set,
	// each request carries X-Incidentops-Signature: t=<unix seconds>,v1=<hex
	// HMAC-SHA256 over "<unix seconds>.<body>">, so the receiver can verify
	// the sender and reject replays.
	// +optional
	SigningSecretRef *SecretKeyReference `json:"signingSecretRef,omitempty"`

	// Timeout of one delivery attempt, at least 1s and at most 5m.
	// Defaults to 10s.
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || (duration(self) >= duration('1s') && duration(self) <= duration('5m'))",message="timeout must be at least 1s and at most 5m: connecting and being answered take more than a few milliseconds"
	// +optional
	Timeout *Duration `json:"timeout,omitempty"`
}

// ChatReceiver posts to a chat webhook: a Slack incoming webhook, or a
// Microsoft Teams workflow ("When a Teams webhook request is received").
type ChatReceiver struct {
	// URLSecretRef names the Secret key holding the webhook URL.
	// +required
	URLSecretRef SecretKeyReference `json:"urlSecretRef"`

	// Timeout of one delivery attempt, at least 1s and at most 5m.
	// Defaults to 10s.
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || (duration(self) >= duration('1s') && duration(self) <= duration('5m'))",message="timeout must be at least 1s and at most 5m: connecting and being answered take more than a few milliseconds"
	// +optional
	Timeout *Duration `json:"timeout,omitempty"`
}

// PagerDutyReceiver raises an alert through the PagerDuty Events API v2.
// All notifications about one incident share one dedup_key, so they attach
// to a single alert.
type PagerDutyReceiver struct {
	// RoutingKeySecretRef names the Secret key holding the integration's
	// routing key.
	// +required
	RoutingKeySecretRef SecretKeyReference `json:"routingKeySecretRef"`

	// URL of the Events API. Defaults to https://events.pagerduty.com/v2/enqueue.
	// +kubebuilder:validation:Pattern=`^https?://`
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	URL string `json:"url,omitempty"`

	// Timeout of one delivery attempt, at least 1s and at most 5m.
	// Defaults to 10s.
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || (duration(self) >= duration('1s') && duration(self) <= duration('5m'))",message="timeout must be at least 1s and at most 5m: connecting and being answered take more than a few milliseconds"
	// +optional
	Timeout *Duration `json:"timeout,omitempty"`
}

// EmailReceiver sends e-mail through the operator's SMTP server, which is
// configured once for the whole operator (--smtp-* flags). Every mail about
// one incident carries the same References header, so mail clients show
// them as one thread, and a Message-ID derived from the delivery's
// idempotency key.
type EmailReceiver struct {
	// To are the addresses the mail is sent to, such as a team mailbox:
	// bare addresses whose domain has a dot, such as desk@example.org.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MaxLength=254
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9!#$%&'*+/=?^_{|}~-]+([.][A-Za-z0-9!#$%&'*+/=?^_{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$`
	// +listType=set
	// +required
	To []string `json:"to"`

	// Cc are addresses copied in.
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MaxLength=254
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9!#$%&'*+/=?^_{|}~-]+([.][A-Za-z0-9!#$%&'*+/=?^_{|}~-]+)*@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$`
	// +listType=set
	// +optional
	Cc []string `json:"cc,omitempty"`
}

// MessageTemplate overrides the text of a receiver's notifications. Each
// part is a Go text/template over the notification: .Incident (namespace,
// name, title, description, type, category, severity, reporter, assets,
// impact, awareAt), .Policy, .Level, .Receiver and .Key; the functions
// join and impacts are available.
type MessageTemplate struct {
	// Title is one line: a chat header, an alert summary, a mail subject.
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	// +optional
	Title string `json:"title,omitempty"`

	// Body is the message text.
	// +kubebuilder:validation:MaxLength=16384
	// +kubebuilder:validation:XValidation:rule="self.matches(r'[\\p{L}\\p{N}\\p{P}\\p{S}]')",message="must not be blank: it needs a letter, digit, punctuation mark or symbol"
	// +optional
	Body string `json:"body,omitempty"`
}

// Receiver is a named destination for notifications, reached through
// exactly one channel.
// +kubebuilder:validation:XValidation:rule="[has(self.webhook), has(self.slack), has(self.teams), has(self.pagerDuty), has(self.email)].filter(c, c).size() == 1",message="a receiver needs exactly one channel: webhook, slack, teams, pagerDuty or email"
type Receiver struct {
	// Name that escalation levels use to refer to the receiver.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +required
	Name string `json:"name"`

	// Webhook delivers to an HTTP endpoint.
	// +optional
	Webhook *WebhookReceiver `json:"webhook,omitempty"`

	// Slack posts a Block Kit message to an incoming webhook.
	// +optional
	Slack *ChatReceiver `json:"slack,omitempty"`

	// Teams posts an Adaptive Card to a Microsoft Teams workflow webhook.
	// +optional
	Teams *ChatReceiver `json:"teams,omitempty"`

	// PagerDuty raises an alert through the Events API v2.
	// +optional
	PagerDuty *PagerDutyReceiver `json:"pagerDuty,omitempty"`

	// Email sends mail through the operator's SMTP server.
	// +optional
	Email *EmailReceiver `json:"email,omitempty"`

	// Template overrides the default text of this receiver's notifications.
	// Webhooks carry structured JSON and ignore it.
	// +optional
	Template *MessageTemplate `json:"template,omitempty"`
}

// Role is a person found from the incident and its assets rather than
// named in the policy. People reached by role are sent e-mail through the
// operator's SMTP server.
// +kubebuilder:validation:Enum=Reporter;LineManager;DepartmentManager;AssetOwner;SystemOwner;Supplier
type Role string

const (
	// RoleReporter is the person who reported the incident. Once told, they
	// are kept informed of every change of phase.
	RoleReporter Role = "Reporter"
	// RoleLineManager is the reporter's line manager.
	RoleLineManager Role = "LineManager"
	// RoleAssetOwner is the owner of each asset the incident names.
	RoleAssetOwner Role = "AssetOwner"
	// RoleSystemOwner is the system owner of each asset the incident names.
	RoleSystemOwner Role = "SystemOwner"
	// RoleDepartmentManager is each manager of the reporter's Department
	// (a deputy while they are absent).
	RoleDepartmentManager Role = "DepartmentManager"
	// RoleSupplier is each asset's supplier: its help desk when contacted
	// Direct, the organisation's named contact for it otherwise.
	RoleSupplier Role = "Supplier"
)

// NotifyTarget is one recipient of an escalation level: a receiver of the
// policy, or a role.
// +kubebuilder:validation:XValidation:rule="has(self.receiver) != has(self.role)",message="set exactly one of receiver and role"
type NotifyTarget struct {
	// Receiver is the name of one of the policy's receivers.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Receiver string `json:"receiver,omitempty"`

	// Role is a person found from the incident and its assets.
	// +optional
	Role Role `json:"role,omitempty"`
}

// EscalationLevel is one step of the escalation chain.
type EscalationLevel struct {
	// After is how long after the previous level (for level 0: after the
	// incident is routed) this level is reached, unless the incident has
	// been acknowledged or resolved by then: 0s or unset for level 0, at
	// least 1m for the levels after it, in whole seconds.
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || duration(self) <= duration('8760h')",message="after must be at most 8760h (a year)"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || duration(self).getMilliseconds() % 1000 == 0",message="after is counted in whole seconds, such as 90s or 1h30m, not in fractions of a second"
	// +optional
	After *Duration `json:"after,omitempty"`

	// Notify lists who is told when the level is reached.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +required
	Notify []NotifyTarget `json:"notify"`
}

// Escalation is the chain of levels an incident climbs until someone
// acknowledges it.
// +kubebuilder:validation:XValidation:rule="!has(self.repeat) || self.repeat == 0 || has(self.repeatAfter)",message="repeatAfter is required when repeat is set",fieldPath=".repeatAfter"
// +kubebuilder:validation:XValidation:rule="!has(self.levels[0].after) || !self.levels[0].after.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || duration(self.levels[0].after) == duration('0s')",message="levels[0].after must be 0s or unset: level 0 is notified when the incident is routed; after applies from levels[1]",fieldPath=".levels"
// +kubebuilder:validation:XValidation:rule="size(self.levels) <= 1 || (has(self.levels[1].after) && (!self.levels[1].after.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || duration(self.levels[1].after) >= duration('1m')))",message="levels[1].after must be at least 1m: each level after the first gives people time to act on the one before it",fieldPath=".levels"
// +kubebuilder:validation:XValidation:rule="size(self.levels) <= 2 || (has(self.levels[2].after) && (!self.levels[2].after.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || duration(self.levels[2].after) >= duration('1m')))",message="levels[2].after must be at least 1m: each level after the first gives people time to act on the one before it",fieldPath=".levels"
// +kubebuilder:validation:XValidation:rule="size(self.levels) <= 3 || (has(self.levels[3].after) && (!self.levels[3].after.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || duration(self.levels[3].after) >= duration('1m')))",message="levels[3].after must be at least 1m: each level after the first gives people time to act on the one before it",fieldPath=".levels"
// +kubebuilder:validation:XValidation:rule="size(self.levels) <= 4 || (has(self.levels[4].after) && (!self.levels[4].after.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || duration(self.levels[4].after) >= duration('1m')))",message="levels[4].after must be at least 1m: each level after the first gives people time to act on the one before it",fieldPath=".levels"
// +kubebuilder:validation:XValidation:rule="size(self.levels) <= 5 || (has(self.levels[5].after) && (!self.levels[5].after.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || duration(self.levels[5].after) >= duration('1m')))",message="levels[5].after must be at least 1m: each level after the first gives people time to act on the one before it",fieldPath=".levels"
// +kubebuilder:validation:XValidation:rule="size(self.levels) <= 6 || (has(self.levels[6].after) && (!self.levels[6].after.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || duration(self.levels[6].after) >= duration('1m')))",message="levels[6].after must be at least 1m: each level after the first gives people time to act on the one before it",fieldPath=".levels"
// +kubebuilder:validation:XValidation:rule="size(self.levels) <= 7 || (has(self.levels[7].after) && (!self.levels[7].after.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || duration(self.levels[7].after) >= duration('1m')))",message="levels[7].after must be at least 1m: each level after the first gives people time to act on the one before it",fieldPath=".levels"
// +kubebuilder:validation:XValidation:rule="size(self.levels) <= 8 || (has(self.levels[8].after) && (!self.levels[8].after.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || duration(self.levels[8].after) >= duration('1m')))",message="levels[8].after must be at least 1m: each level after the first gives people time to act on the one before it",fieldPath=".levels"
// +kubebuilder:validation:XValidation:rule="size(self.levels) <= 9 || (has(self.levels[9].after) && (!self.levels[9].after.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || duration(self.levels[9].after) >= duration('1m')))",message="levels[9].after must be at least 1m: each level after the first gives people time to act on the one before it",fieldPath=".levels"
// +kubebuilder:validation:XValidation:rule="self.levels.map(l, size(l.notify)).sum() * (self.?repeat.orValue(0) + 1) <= 100",message="an escalation may send at most 100 notifications per incident: the number of levels[].notify entries times (repeat + 1) is over 100",fieldPath=".levels"
type Escalation struct {
	// Levels in order; level 0 is notified when the incident is routed.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	// +required
	Levels []EscalationLevel `json:"levels"`

	// Repeat runs the whole chain again this many times while the incident
	// stays unacknowledged.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10
	// +optional
	Repeat int32 `json:"repeat,omitempty"`

	// RepeatAfter is how long after the last level the chain starts again,
	// at least 1m, in whole seconds.
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || (duration(self) >= duration('1m') && duration(self) <= duration('8760h'))",message="repeatAfter must be at least 1m and at most 8760h (a year)"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || duration(self).getMilliseconds() % 1000 == 0",message="repeatAfter is counted in whole seconds, such as 90s or 1h30m, not in fractions of a second"
	// +optional
	RepeatAfter *Duration `json:"repeatAfter,omitempty"`
}

// HoursKind says what time a target counts.
// +kubebuilder:validation:Enum=Business;Calendar
type HoursKind string

const (
	// BusinessHours count only the calendar's opening hours.
	BusinessHours HoursKind = "Business"
	// CalendarHours count every hour.
	CalendarHours HoursKind = "Calendar"
)

// Calendar is when the people behind a policy work.
type Calendar struct {
	// TimeZone is a canonical IANA time zone: an Area/Location such as
	// Europe/London, UTC, or Etc/GMT-2. The names of the host's own zone
	// (Local, localtime, posixrules, Factory) are refused, and so are
	// older aliases such as GB or US/Eastern: name the zone they link to.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$`
	// +kubebuilder:validation:XValidation:rule="self == 'UTC' || self.matches('^(Etc/(UTC|GMT|GMT[+-]([1-9]|1[0-2])|GMT-1[34])|(Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe|Indian|Pacific)/[A-Z][A-Za-z0-9_+-]*(/[A-Z][A-Za-z0-9_+-]*)?)$')",message="timeZone must be a canonical IANA zone, such as Europe/London, UTC or Etc/GMT-2: Local, localtime, posixrules and Factory would be whatever zone the operator's host is in, and aliases such as GB or US/Eastern are not canonical"
	// +kubebuilder:default=UTC
	// +optional
	TimeZone string `json:"timeZone,omitempty"`

	// Days are the working days. Defaults to Monday to Friday.
	// +kubebuilder:validation:MaxItems=7
	// +kubebuilder:validation:items:Enum=Monday;Tuesday;Wednesday;Thursday;Friday;Saturday;Sunday
	// +listType=set
	// +optional
	Days []string `json:"days,omitempty"`

	// Opens is the local time work starts, as HH:MM.
	// +kubebuilder:validation:Pattern=`^([01][0-9]|2[0-3]):[0-5][0-9]$`
	// +kubebuilder:default="09:00"
	// +optional
	Opens string `json:"opens,omitempty"`

	// Closes is the local time work ends, as HH:MM, after Opens.
	// +kubebuilder:validation:Pattern=`^([01][0-9]|2[0-4]):[0-5][0-9]$`
	// +kubebuilder:default="17:00"
	// +optional
	Closes string `json:"closes,omitempty"`

	// Holidays are dates (YYYY-MM-DD) on which nobody works.
	// +kubebuilder:validation:MaxItems=400
	// +kubebuilder:validation:items:Pattern=`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`
	// +listType=set
	// +optional
	Holidays []string `json:"holidays,omitempty"`
}

// SLATarget is the service level promised for incidents of some severities.
// +kubebuilder:validation:XValidation:rule="!has(self.warnBefore) || !has(self.acknowledgeWithin) || !self.warnBefore.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || !self.acknowledgeWithin.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || duration(self.warnBefore) < duration(self.acknowledgeWithin)",message="warnBefore must be shorter than acknowledgeWithin: otherwise the incident is at risk from the moment it is routed",fieldPath=".warnBefore"
// +kubebuilder:validation:XValidation:rule="!has(self.warnBefore) || !has(self.resolveWithin) || !self.warnBefore.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || !self.resolveWithin.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || duration(self.warnBefore) < duration(self.resolveWithin)",message="warnBefore must be shorter than resolveWithin: otherwise the incident is at risk from the moment it is routed",fieldPath=".warnBefore"
type SLATarget struct {
	// Severities the target applies to.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=4
	// +listType=set
	// +required
	Severities []Severity `json:"severities"`

	// AcknowledgeWithin is how long, from routing, until someone must
	// acknowledge the incident: at least 1s and at most 8760h, in whole
	// seconds.
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || (duration(self) >= duration('1s') && duration(self) <= duration('8760h'))",message="acknowledgeWithin must be at least 1s and at most 8760h (a year)"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || duration(self).getMilliseconds() % 1000 == 0",message="acknowledgeWithin is counted in whole seconds, such as 90s or 1h30m, not in fractions of a second"
	// +optional
	AcknowledgeWithin *Duration `json:"acknowledgeWithin,omitempty"`

	// ResolveWithin is how long, from routing, until the incident must be
	// resolved: at least 1m and at most 8760h, in whole seconds.
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || (duration(self) >= duration('1m') && duration(self) <= duration('8760h'))",message="resolveWithin must be at least 1m and at most 8760h (a year): resolving takes more than seconds"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || duration(self).getMilliseconds() % 1000 == 0",message="resolveWithin is counted in whole seconds, such as 90s or 1h30m, not in fractions of a second"
	// +optional
	ResolveWithin *Duration `json:"resolveWithin,omitempty"`

	// WarnBefore is how long before a deadline the incident becomes
	// SLAAtRisk, and the reporter is told: at least 1s, in whole seconds,
	// and shorter than acknowledgeWithin and resolveWithin.
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || (duration(self) >= duration('1s') && duration(self) <= duration('8760h'))",message="warnBefore must be at least 1s and at most 8760h (a year)"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || duration(self).getMilliseconds() % 1000 == 0",message="warnBefore is counted in whole seconds, such as 90s or 1h30m, not in fractions of a second"
	// +optional
	WarnBefore *Duration `json:"warnBefore,omitempty"`

	// Hours says whether the durations count business or calendar hours.
	// +kubebuilder:default=Calendar
	// +optional
	Hours HoursKind `json:"hours,omitempty"`
}

// SLA is a policy's service levels.
type SLA struct {
	// Calendar for targets that count business hours.
	// +optional
	Calendar *Calendar `json:"calendar,omitempty"`

	// Targets by severity; the first that lists the incident's severity applies.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	// +required
	Targets []SLATarget `json:"targets"`
}

// Regulatory holds the clocks that law sets.
type Regulatory struct {
	// AuthorityNotificationWithin is how long after awareness a personal
	// data breach must be reported to the supervisory authority (GDPR
	// Art. 33: 72 hours; the ICO in the UK), counted in calendar hours.
	// A policy may shorten the legal clock, never remove or lengthen it, so
	// this is at least 1h and at most 72h, in whole seconds: a report to
	// the authority takes at least an hour to prepare.
	// +kubebuilder:default="72h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || (duration(self) >= duration('1h') && duration(self) <= duration('72h'))",message="authorityNotificationWithin must be at least 1h and at most 72h: a policy may shorten the legal clock, not remove or lengthen it, and a report to the authority takes at least an hour to prepare"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || duration(self).getMilliseconds() % 1000 == 0",message="authorityNotificationWithin is counted in whole seconds, such as 90s or 1h30m, not in fractions of a second"
	// +optional
	AuthorityNotificationWithin *Duration `json:"authorityNotificationWithin,omitempty"`

	// Notify lists who is told about the regulatory obligations of the
	// incidents the policy routes: when a draft, or a decision that a stage
	// is not required, awaits agreement (AwaitingAgreement), and when a
	// stage not yet agreed is due within warnBefore (ObligationDue). They
	// are delivered as every notification is, at least once.
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Notify []NotifyTarget `json:"notify,omitempty"`

	// WarnBefore is how long before a stage's deadline the ObligationDue
	// notice goes, when the stage's filing is not agreed by then: 12h when
	// not set.
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]{1,5}([.][0-9]{1,3})?(ms|s|m|h))+$') || (duration(self) >= duration('1m') && duration(self) <= duration('720h'))",message="warnBefore must be at least 1m and at most 720h"
	// +optional
	WarnBefore *Duration `json:"warnBefore,omitempty"`
}

// DefaultWarnBefore is how long before a stage's deadline people are told
// when a policy does not say.
const DefaultWarnBefore = 12 * time.Hour

// WarnBeforeOrDefault is spec.regulatory.warnBefore, or 12h.
func (r *Regulatory) WarnBeforeOrDefault() time.Duration {
	if r == nil || r.WarnBefore == nil || r.WarnBefore.Err() != nil || r.WarnBefore.Duration <= 0 {
		return DefaultWarnBefore
	}
	return r.WarnBefore.Duration
}

// Major says what makes an incident major, and who else is told then.
type Major struct {
	// Severities that make an incident major. Defaults to Critical.
	// +kubebuilder:validation:MaxItems=4
	// +listType=set
	// +optional
	Severities []Severity `json:"severities,omitempty"`

	// ServiceAffecting makes every service-affecting incident major.
	// Defaults to true.
	// +optional
	ServiceAffecting *bool `json:"serviceAffecting,omitempty"`

	// Notify lists who is told when an incident is major, such as the
	// management team and the system owner.
	// +kubebuilder:validation:MaxItems=16
	// +optional
	Notify []NotifyTarget `json:"notify,omitempty"`
}

// Delivery says how hard the operator tries to reach a receiver.
type Delivery struct {
	// MaxAttempts is how many times one notification is tried before the
	// operator gives up on it. Retries back off exponentially with jitter.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=10
	// +optional
	MaxAttempts int32 `json:"maxAttempts,omitempty"`

	// FallbackReceiver is told, instead, about every notification the
	// operator gave up on: typically a shared mailbox or an on-call pager.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	FallbackReceiver string `json:"fallbackReceiver,omitempty"`
}

// DefaultMaxAttempts is the attempts per notification when a policy sets none.
const DefaultMaxAttempts = 10

// EscalationPolicySpec says which incidents a policy applies to and who is
// told about them.
// +kubebuilder:validation:XValidation:rule="self.escalation.levels.all(l, l.notify.all(n, !has(n.receiver) || (has(self.receivers) && self.receivers.exists(r, r.name == n.receiver))))",message="every escalation.levels[].notify[].receiver must name one of spec.receivers",fieldPath=".escalation"
// +kubebuilder:validation:XValidation:rule="!has(self.major) || !has(self.major.notify) || self.major.notify.all(n, !has(n.receiver) || (has(self.receivers) && self.receivers.exists(r, r.name == n.receiver)))",message="every major.notify[].receiver must name one of spec.receivers",fieldPath=".major"
// +kubebuilder:validation:XValidation:rule="!has(self.regulatory) || !has(self.regulatory.notify) || self.regulatory.notify.all(n, !has(n.receiver) || (has(self.receivers) && self.receivers.exists(r, r.name == n.receiver)))",message="every regulatory.notify[].receiver must name one of spec.receivers",fieldPath=".regulatory"
// +kubebuilder:validation:XValidation:rule="!has(self.delivery) || !has(self.delivery.fallbackReceiver) || (has(self.receivers) && self.receivers.exists(r, r.name == self.delivery.fallbackReceiver))",message="delivery.fallbackReceiver must name one of spec.receivers",fieldPath=".delivery.fallbackReceiver"
type EscalationPolicySpec struct {
	// Priority orders policies: higher is evaluated first, and policies of
	// equal priority are evaluated by name.
	// +kubebuilder:validation:Minimum=-1000
	// +kubebuilder:validation:Maximum=1000
	// +kubebuilder:default=0
	// +optional
	Priority int32 `json:"priority"`

	// Match selects the incidents the policy applies to.
	// +optional
	Match PolicyMatch `json:"match,omitempty"`

	// Continue lets lower-priority policies match an incident this policy
	// matched. Without it, evaluation stops at this policy.
	// +optional
	Continue bool `json:"continue,omitempty"`

	// Receivers are the destinations the policy's escalation levels notify.
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=name
	// +optional
	Receivers []Receiver `json:"receivers,omitempty"`

	// Escalation is who is told, in order.
	// +required
	Escalation Escalation `json:"escalation"`

	// SLA sets targets for acknowledging and resolving incidents.
	// +optional
	SLA *SLA `json:"sla,omitempty"`

	// Regulatory sets the deadline for telling the supervisory authority
	// about personal data breaches. Incidents involving personal data get
	// the 72-hour GDPR clock even when no policy sets it.
	// +optional
	Regulatory *Regulatory `json:"regulatory,omitempty"`

	// Retention says how long the incidents this policy routes stay in the
	// cluster once resolved, before the operator archives each whole and
	// removes it. Unset keeps them.
	// +optional
	Retention *Retention `json:"retention,omitempty"`

	// Regimes names the RegulatoryRegimes that apply to the incidents the
	// policy matches, in addition to the operator's defaults
	// (--default-regimes, uk-gdpr). A regime with appliesTo applies only to
	// the incidents it describes. Named in a protected cluster policy, a
	// regime binds every namespace the policy selects.
	// +listType=set
	// +kubebuilder:validation:MaxItems=8
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	Regimes []string `json:"regimes,omitempty"`

	// Major says what makes an incident major and who is told then.
	// +optional
	Major *Major `json:"major,omitempty"`

	// Delivery bounds the retries of a failing notification and names who
	// hears about the ones that could not be delivered.
	// +optional
	Delivery *Delivery `json:"delivery,omitempty"`
}

// EscalationPolicyStatus is the observed state of an EscalationPolicy.
type EscalationPolicyStatus struct {
	// ObservedGeneration is the generation of the spec last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// EscalationPolicy reasons.
const (
	ReasonInvalidExpression = "InvalidExpression"
	// ReasonExpressionFails: spec.match.expression works on an incident
	// with every field set, but fails on one without a label, an optional
	// field or an asset it reads, such as
	// incident.metadata.labels['team'] == 'x' on an incident without that
	// label. The policy still routes the incidents it can judge; the
	// others are routed without it, each with a PolicyNotEvaluated event.
	ReasonExpressionFails = "ExpressionFails"
	ReasonSecretNotFound  = "SecretNotFound"
	ReasonInvalidTemplate = "InvalidTemplate"
	// ReasonChannelNotConfigured: a receiver uses a channel the operator was
	// not configured for, such as email without an SMTP server.
	ReasonChannelNotConfigured = "ChannelNotConfigured"
	// ReasonInvalidCalendar: spec.sla.calendar names an unknown time zone
	// or its hours make no sense.
	ReasonInvalidCalendar = "InvalidCalendar"
)

// EscalationPolicy decides which incidents in its namespace it applies to and
// who is told about them, through which channel, in which order.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=escpol,categories=incidentops
// +kubebuilder:printcolumn:name="Priority",type=integer,JSONPath=`.spec.priority`
// +kubebuilder:printcolumn:name="Continue",type=boolean,JSONPath=`.spec.continue`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type EscalationPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec EscalationPolicySpec `json:"spec"`
	// +optional
	Status EscalationPolicyStatus `json:"status,omitempty"`
}

// EscalationPolicyList is a list of EscalationPolicies.
//
// +kubebuilder:object:root=true
type EscalationPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []EscalationPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&EscalationPolicy{}, &EscalationPolicyList{})
}
