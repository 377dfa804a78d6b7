package validation_test

import (
	"fmt"
	"io/fs"
	"math"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/incidentops/incident-operator/config/crd"
	"github.com/incidentops/incident-operator/internal/testenv"
)

// A kind is one CRD: its schema, and the samples the sweep starts from.
type kind struct {
	crd    string
	gvk    schema.GroupVersionKind
	schema *apiextensionsv1.JSONSchemaProps
	// bases are the kind's samples from config/samples, in file order.
	bases []map[string]any
}

// loadKinds reads the CRDs the API server runs, as controller-gen wrote
// them, and the samples of config/samples.
//
// builtBases are the kinds config/samples has no sample of, because
// people never write them; the sweep builds their bases itself.
var builtBases = map[string]string{
	"AuditTrail": "only the operator appends to a trail; its base is a trail of two entries chained as the operator chains them (auditTrailBase)",
	"AuditBatch": "only the operator writes the audit log; its base is the first batch of a log of two entries, signed as the operator signs one (auditBatchBase)",
	"Filing":     "only the operator opens a Filing; its base is the one it opens for the sample regime's first stage of the first sample incident (filingBase)",
}

// rulesDrivenElsewhere are transition rules the sweep cannot reach from
// the incidents it stores (none holds a legal hold), each broken by a test
// that does.
var rulesDrivenElsewhere = map[string]string{
	"legalHold cannot be removed: release it, so that who released it is recorded": "controllers TestLegalHoldAndEvidence",
	"a legal hold in force can only be released, not changed":                      "controllers TestLegalHoldAndEvidence",
	"a release cannot be changed; place a new hold instead":                        "controllers TestLegalHoldAndEvidence",
	"reportedAt cannot be changed once set":                                        "controllers TestSLACountsFromWhenTheReportWasMade",
	// A sign-off needs a run the report has made, which the sweep's
	// reports, stored moments before, have not.
	"signOffs is append-only: a sign-off cannot be removed": "controllers TestIncidentReportSignOffIsAttested",
	"a sign-off cannot be changed once recorded":            "controllers TestIncidentReportSignOffIsAttested",
	// A Filing is opened empty by the operator and each step is recorded
	// on it afterwards, one per request, by two people: the Filing the
	// sweep stores has no step to change.
	"a decision cannot be changed or removed once made":                                               "controllers TestFilingRulesRefuseEachBrokenStep",
	"a decision that a stage is not required must give its reasons in rationale (UK GDPR Art. 33(5))": "controllers TestFilingRulesRefuseEachBrokenStep",
	"a draft cannot be changed or removed once made: what it lacks follows in a later stage":          "controllers TestFilingRulesRefuseEachBrokenStep",
	"a filing cannot be changed or removed once recorded":                                             "controllers TestFilingRulesRefuseEachBrokenStep",
	"a filing needs its draft first":                                                                  "controllers TestFilingRulesRefuseEachBrokenStep",
	"a letter cannot be changed once recorded":                                                        "controllers TestFilingRulesRefuseEachBrokenStep",
	"a stage decided not required has nothing to draft or file":                                       "controllers TestFilingRulesRefuseEachBrokenStep",
	"agreements are append-only: none can be removed":                                                 "controllers TestFilingRulesRefuseEachBrokenStep",
	"agreements are numbered from 0 without gaps":                                                     "controllers TestFilingRulesRefuseEachBrokenStep",
	"an acknowledgement cannot be changed or removed once recorded":                                   "controllers TestFilingRulesRefuseEachBrokenStep",
	"an acknowledgement needs the filing first":                                                       "controllers TestFilingRulesRefuseEachBrokenStep",
	"an agreement cannot be changed once recorded":                                                    "controllers TestFilingRulesRefuseEachBrokenStep",
	"an exemption is a reason for not telling: it needs outcome NotRequired":                          "controllers TestFilingRulesRefuseEachBrokenStep",
	"an exemption (UK GDPR Art. 34(3)) is a reason not to tell the data subjects: only a stage whose recipient is DataSubjects takes one; give the reasons in rationale": "controllers TestFilingRulesRefuseEachBrokenStep",
	"spec.filed.delayReason is required: the filing is after the stage's deadline, status.deadline, and must give the reasons for the delay (UK GDPR Art. 33(1))":        "controllers TestLateFilingMustGiveItsReasons",
	"content fields are named like nature or dataSubjectCount: a lower-case letter, then letters and digits, at most 63":                                                 "controllers TestFilingRulesRefuseEachBrokenStep",
	"correspondence follows the filing: record the filing first":                                                                                                         "controllers TestFilingRulesRefuseEachBrokenStep",
	"correspondence is append-only: no letter can be removed":                                                                                                            "controllers TestFilingRulesRefuseEachBrokenStep",
	"correspondence is numbered from 0 without gaps":                                                                                                                     "controllers TestFilingRulesRefuseEachBrokenStep",
	"is what the stage is: it cannot be changed":                                                                                                                         "controllers TestFilingRulesRefuseEachBrokenStep",
	"requiredContent is what the stage asks: it cannot be changed":                                                                                                       "controllers TestFilingRulesRefuseEachBrokenStep",
	// The sample regime keeps each rule; a case built to break one is
	// refused at its stage list, not at the stage the deriver walks.
	"a stage whose clock runs from a filing must name a stage listed before it":                                        "controllers TestRegimeRulesRefuseEachBrokenStage",
	"exactly one of deadline, deadlineMonths and withoutUndueDelay: a stage has a fixed time limit or none":            "controllers TestRegimeRulesRefuseEachBrokenStage",
	"maxFromAwareness caps a deadline counted from classification: it needs anchor.from Classification and a deadline": "controllers TestRegimeRulesRefuseEachBrokenStage",
	"stage is required when from is Filing, and only then":                                                             "controllers TestRegimeRulesRefuseEachBrokenStage",
	// A PolicyTest's "exactly one of" rules need two fields set or none.
	"give at least one case or invariant":         "controllers TestPolicyTestRulesRefuseEachBrokenPart",
	"give at or after, not both":                  "controllers TestPolicyTestRulesRefuseEachBrokenPart",
	"give exactly one of acknowledge and resolve": "controllers TestPolicyTestRulesRefuseEachBrokenPart",
	"give exactly one of told and neverTold":      "controllers TestPolicyTestRulesRefuseEachBrokenPart",
	"name exactly one of receiver and role":       "controllers TestPolicyTestRulesRefuseEachBrokenPart",
}

func loadKinds() (map[string]*kind, error) {
	kinds := map[string]*kind{}
	files, err := fs.Glob(crd.Bases, "bases/*.yaml")
	if err != nil {
		return nil, err
	}
	for _, file := range files {
		data, err := crd.Bases.ReadFile(file)
		if err != nil {
			return nil, err
		}
		var def apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(data, &def); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		v := def.Spec.Versions[0]
		kinds[def.Spec.Names.Kind] = &kind{
			crd:    def.Name,
			gvk:    schema.GroupVersionKind{Group: def.Spec.Group, Version: v.Name, Kind: def.Spec.Names.Kind},
			schema: v.Schema.OpenAPIV3Schema,
		}
	}
	samples, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", "samples", "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(samples)
	for _, file := range samples {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		for _, doc := range strings.Split(string(data), "\n---\n") {
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			if k, ok := kinds[fmt.Sprint(obj["kind"])]; ok {
				k.bases = append(k.bases, obj)
			}
		}
	}
	for name, k := range kinds {
		if _, built := builtBases[name]; len(k.bases) == 0 && !built {
			return nil, fmt.Errorf("config/samples has no %s to start from", name)
		}
	}
	return kinds, nil
}

// A badCase is one malformed object, or one malformed change to a stored
// object, and the field an answer must name.
type badCase struct {
	kind string
	// name says what is wrong: the kind, the path changed and the value, or
	// what a case breaking a rule does. It is the key of knownGaps.
	name string
	// field is the path an answer must name.
	field string
	// exact asks for field itself: a list that is too long must not pass as
	// named because one of its items is wrong as well.
	exact bool
	// why is how the value was derived: a schema keyword, or explicit.
	why string
	// rule is the message of the rule comparing fields that the case
	// breaks, for a case of ruleBreakers.
	rule string
	// object is the whole object to create, or nil for an update.
	object map[string]any
	update *update
	// present is true when the base had the field; such a case is kept
	// over the same value set on a base without the field.
	present bool
}

// An update changes an incident already stored: transition rules and the
// rules of times reported later are checked only then.
type update struct {
	live string
	// patch is a JSON merge patch made from the stored object.
	patch func(live map[string]any) map[string]any
}

// The stored incidents update cases start from.
const (
	liveAware    = "live-aware"    // with awareAt, acknowledgement and resolution
	liveUnaware  = "live-unaware"  // personal data, no awareAt
	liveEvidence = "live-evidence" // the first Evidence sample, with one custody transfer
	liveTrail    = "live-trail"    // the AuditTrail base
	liveBatch    = "live-batch"    // the AuditBatch base
)

// deriver makes the cases of one base object.
type deriver struct {
	kind string
	// schema is the kind's whole schema; examples fill what a case adds.
	schema   *apiextensionsv1.JSONSchemaProps
	examples examples
	base     map[string]any
	cases    []badCase
	rules    *ruleCoverage
}

// ruleCoverage follows the x-kubernetes-validations rules met in the
// schemas, so that a rule nothing breaks fails the sweep.
type ruleCoverage struct {
	seen    map[string]string // message -> where
	broken  map[string]bool
	updated map[string]bool // transition rules, broken once for all bases
	unknown map[string]bool // rules of strings no bad value is derived for
}

// deriveCases walks each kind's schema from each of its samples and returns
// the bad cases, one for each kind, path and value; and the rules the
// sweep does not know how to break.
func deriveCases(kinds map[string]*kind, now time.Time) ([]badCase, []string) {
	cov := &ruleCoverage{seen: map[string]string{}, broken: map[string]bool{}, updated: map[string]bool{}, unknown: map[string]bool{}}
	var all []badCase
	for _, name := range sortedKeys(kinds) {
		k := kinds[name]
		for _, base := range k.bases {
			d := &deriver{kind: name, schema: k.schema, examples: k.examples(), base: base, rules: cov}
			spec := k.schema.Properties["spec"]
			d.walk(&spec, path{"spec"}, "", base["spec"], true, true, now)
			// A root rule sees the whole object.
			for _, r := range k.schema.XValidations {
				d.rule(k.schema, r, path{}, base, now)
			}
			all = append(all, d.cases...)
		}
	}
	all = append(all, explicitCases(kinds, now)...)

	var missing []string
	for message, where := range cov.seen {
		if _, elsewhere := rulesDrivenElsewhere[message]; !cov.broken[message] && !elsewhere {
			missing = append(missing, fmt.Sprintf("no case breaks the rule %q at %s", message, where))
		}
	}
	for _, b := range ruleBreakers {
		if _, ok := cov.seen[b.message]; !ok {
			missing = append(missing, fmt.Sprintf("%s: the schema no longer has the rule %q that ruleBreakers breaks", b.kind, b.message))
		}
	}
	missing = append(missing, sortedKeys(cov.unknown)...)
	sort.Strings(missing)

	// Keep one case of each name: kind, path and value. Prefer the base
	// that had the field, so the value replaces one rather than adding it.
	sort.SliceStable(all, func(i, j int) bool { return all[i].present && !all[j].present })
	seen := map[string]bool{}
	var cases []badCase
	for _, c := range all {
		if !seen[c.name] {
			seen[c.name] = true
			cases = append(cases, c)
		}
	}
	sort.SliceStable(cases, func(i, j int) bool { return cases[i].name < cases[j].name })
	return cases, missing
}

// set adds the case of the base with value at p.
func (d *deriver) set(p path, field string, value any, why string, exact, present bool) {
	if field == "" {
		field = p.String()
	}
	if field != p.String() {
		// Inside an atomic map, or a case naming an object above the value:
		// the API server names the value's own path, the operator the object's.
		exact = false
	}
	obj := setAt(runtime.DeepCopyJSON(d.base), p, copyValue(value)).(map[string]any)
	d.fillRequired(obj, p)
	if c, ok := appendedTransfer(d.kind, p, obj, value, why); ok {
		d.cases = append(d.cases, c)
		return
	}
	d.cases = append(d.cases, badCase{
		kind: d.kind, name: fmt.Sprintf("%s %s=%s", d.kind, p, show(value)), field: field, exact: exact,
		why: why, object: obj, present: present,
	})
}

// liveEvidenceTransfers is how many custody transfers the live evidence
// holds.
const liveEvidenceTransfers = 1

// appendedTransfer makes a value inside a custody transfer a case of its
// own kind: a transfer appended to the live evidence, as people record
// one. An Evidence created with transfers is refused for that alone. The
// transfer follows the one before it in all but the value tried.
func appendedTransfer(kind string, p path, obj map[string]any, value any, why string) (badCase, bool) {
	if kind != "Evidence" || len(p) < 4 || p[0] != "spec" || p[1] != "custody" {
		return badCase{}, false
	}
	if _, item := p[2].(int); !item {
		return badCase{}, false
	}
	tried, _ := p[3].(string)
	node, _ := getAt(obj, p[:3])
	item, _ := node.(map[string]any)
	field := path{"spec", "custody", liveEvidenceTransfers}.with(p[3:]...)
	return badCase{
		kind: kind, name: fmt.Sprintf("%s %s=%s (appended transfer)", kind, field, show(value)), field: field.String(), exact: true,
		why: why, present: true,
		update: &update{live: liveEvidence, patch: func(live map[string]any) map[string]any {
			custody, _ := getAt(live, path{"spec", "custody"})
			list, _ := runtime.DeepCopyJSONValue(custody).([]any)
			if len(list) != liveEvidenceTransfers {
				return nil
			}
			last := list[len(list)-1].(map[string]any)
			next := runtime.DeepCopyJSON(item)
			for key, follows := range map[string]any{"sequence": int64(len(list)), "from": last["to"], "at": last["at"]} {
				if key != tried {
					next[key] = follows
				}
			}
			return specPatch("custody", append(list, next))
		}},
	}, true
}

// fillRequired gives each object on the way to p that the base lacks the
// fields its schema requires. The API server does not run the rules of an
// object that fails its structural checks, so a value set in an object
// missing a required field would be refused for that instead of for itself.
func (d *deriver) fillRequired(obj map[string]any, p path) {
	s := d.schema
	for i := 0; i < len(p)-1; i++ {
		if s = childSchema(s, p[i]); s == nil {
			return
		}
		if _, had := getAt(d.base, p[:i+1]); had {
			continue
		}
		node, _ := getAt(obj, p[:i+1])
		m, ok := node.(map[string]any)
		if !ok {
			continue
		}
		for _, name := range s.Required {
			if _, ok := m[name]; !ok {
				prop := s.Properties[name]
				m[name] = d.examples.valid(&prop)
			}
		}
	}
}

func childSchema(s *apiextensionsv1.JSONSchemaProps, seg any) *apiextensionsv1.JSONSchemaProps {
	switch seg := seg.(type) {
	case string:
		if p, ok := s.Properties[seg]; ok {
			return &p
		}
		if s.AdditionalProperties != nil {
			return s.AdditionalProperties.Schema
		}
	case int:
		if s.Items != nil {
			return s.Items.Schema
		}
	}
	return nil
}

// examples are valid strings of the samples, by the pattern they match.
type examples map[string][]string

// examples collects the strings of the kind's samples that fields with a
// pattern hold.
func (k *kind) examples() examples {
	out := examples{}
	var collect func(s *apiextensionsv1.JSONSchemaProps, v any)
	collect = func(s *apiextensionsv1.JSONSchemaProps, v any) {
		switch v := v.(type) {
		case map[string]any:
			for name, child := range v {
				if cs := childSchema(s, name); cs != nil {
					collect(cs, child)
				}
			}
		case []any:
			for _, item := range v {
				if s.Items != nil {
					collect(s.Items.Schema, item)
				}
			}
		case string:
			if s.Pattern != "" {
				out[s.Pattern] = append(out[s.Pattern], v)
			}
		}
	}
	for _, base := range k.bases {
		collect(k.schema, base)
	}
	return out
}

// valid is a value the schema takes: what is required and no more.
func (x examples) valid(s *apiextensionsv1.JSONSchemaProps) any {
	switch s.Type {
	case "object":
		m := map[string]any{}
		for _, name := range s.Required {
			prop := s.Properties[name]
			m[name] = x.valid(&prop)
		}
		return m
	case "array":
		var items []any
		for i := int64(0); s.MinItems != nil && i < *s.MinItems; i++ {
			if len(s.Items.Schema.Enum) > 0 {
				items = append(items, itemFor(nil, s.Items.Schema, int(i))) // a set takes each member once
			} else {
				items = append(items, x.valid(s.Items.Schema))
			}
		}
		return items
	case "integer":
		if s.Minimum != nil {
			return int64(*s.Minimum)
		}
		return int64(0)
	case "boolean":
		return false
	}
	if members := enumStrings(s); len(members) > 0 {
		return members[0]
	}
	if s.Format == "date-time" {
		return stamp(time.Now(), -time.Hour)
	}
	if s.Pattern != "" {
		re := regexp.MustCompile(s.Pattern)
		for _, c := range append(slices.Clone(x[s.Pattern]), "example", "a@example.org", "09:00", "17:00", "2026-01-01", "2026-01-01T00:00:00Z", "https://example.org/") {
			if re.MatchString(c) {
				return c
			}
		}
	}
	return "example"
}

func copyValue(v any) any {
	if v == removed {
		return v
	}
	return runtime.DeepCopyJSONValue(v)
}

// walk derives bad values for the node at p with schema s and every node
// below it. v is the base's value there; present says whether it has one.
// field, when set, is the atomic map above p that answers name instead.
// Absent nodes are walked only when expand is set: once for each field is
// enough, not once for each item of every list.
func (d *deriver) walk(s *apiextensionsv1.JSONSchemaProps, p path, field string, v any, present, expand bool, now time.Time) {
	if serverWritten.MatchString(p.String()) {
		// The API server writes these (config/admission): whatever a client
		// sends is overwritten, never stored, and controllers'
		// TestIdentityIsAttestedByTheAPIServer checks that it is.
		return
	}
	for _, r := range s.XValidations {
		d.rule(s, r, p, v, now)
	}
	switch s.Type {
	case "object":
		for _, wrong := range []any{"not-an-object", int64(42), []any{}} {
			d.set(p, field, wrong, "type", true, present)
		}
		if s.XMapType != nil && *s.XMapType == "atomic" && field == "" {
			field = p.String()
		}
		m, _ := v.(map[string]any)
		for _, name := range s.Required {
			if _, ok := m[name]; ok {
				d.set(p.with(name), field, removed, "required", true, present)
			}
		}
		for _, name := range sortedKeys(s.Properties) {
			child := s.Properties[name]
			value, ok := m[name]
			if ok || expand {
				d.walk(&child, p.with(name), field, value, ok, expand, now)
			}
		}
		if extra := s.AdditionalProperties; extra != nil && extra.Schema != nil {
			// The values of a map share one schema: one key is enough.
			key, value, ok := "example", any(nil), false
			for _, k := range sortedKeys(m) {
				key, value, ok = k, m[k], true
				break
			}
			d.walk(extra.Schema, p.with(key), field, value, ok, expand, now)
		}
	case "array":
		for _, wrong := range []any{"not-a-list", map[string]any{"a": "b"}} {
			d.set(p, field, wrong, "type", true, present)
		}
		list, _ := v.([]any)
		item := s.Items.Schema
		if s.MaxItems != nil {
			items := make([]any, *s.MaxItems+1)
			for i := range items {
				items[i] = itemFor(list, item, i)
			}
			d.set(p, field, items, "maxItems", true, present)
		}
		if s.MinItems != nil && *s.MinItems > 0 {
			d.set(p, field, []any{}, "minItems", true, present)
		}
		if lt := s.XListType; lt != nil && (*lt == "set" || *lt == "map") && len(list) > 0 {
			d.set(p, field, append(slices.Clone(list), list[0]), "duplicate ("+*lt+")", false, present)
		}
		for i, value := range list {
			d.walk(item, p.with(i), field, value, true, expand && i == 0, now)
		}
		if len(list) == 0 && expand {
			d.walk(item, p.with(0), field, nil, false, true, now)
		}
	case "string":
		for _, b := range badStrings(s, v) {
			if b.why == "future" && (futureAllowed.MatchString(d.kind+" "+p.String()) || futureCheckedElsewhere.MatchString(d.kind+" "+p.String())) {
				continue
			}
			d.set(p, field, b.value, b.why, true, present)
		}
		for _, r := range s.XValidations {
			if !strings.Contains(r.Rule, "oldSelf") {
				d.rules.seen[r.Message] = d.kind + " " + p.String()
				if leafRuleKnown(r.Rule) {
					d.rules.broken[r.Message] = true
				} else {
					d.rules.unknown[fmt.Sprintf("%s %s: no bad values derived for the rule %q", d.kind, p, r.Rule)] = true
				}
			}
		}
	case "integer":
		for _, b := range badIntegers(s) {
			d.set(p, field, b.value, b.why, true, present)
		}
	case "boolean":
		for _, wrong := range []any{"true", "yes", int64(1)} {
			d.set(p, field, wrong, "type", true, present)
		}
	}
}

// itemFor is the ith item of a list made one item too long: the base's
// items over again, or a value of the item's type.
func itemFor(list []any, item *apiextensionsv1.JSONSchemaProps, i int) any {
	if len(list) > 0 {
		return runtime.DeepCopyJSONValue(list[i%len(list)])
	}
	switch item.Type {
	case "object":
		return map[string]any{}
	case "integer":
		return int64(i)
	}
	if members := enumStrings(item); len(members) > 0 {
		return members[i%len(members)]
	}
	return fmt.Sprintf("x%d", i)
}

type badValue struct {
	value any
	why   string
}

// badStrings derives the values a string field must refuse from its schema.
func badStrings(s *apiextensionsv1.JSONSchemaProps, v any) []badValue {
	base, _ := v.(string)
	var out []badValue
	seen := map[any]bool{}
	add := func(value any, why string) {
		if !seen[value] && value != any(base) {
			seen[value] = true
			out = append(out, badValue{value, why})
		}
	}
	if s.MinLength != nil && *s.MinLength > 0 {
		add("", "minLength")
	}
	if s.MaxLength != nil {
		add(strings.Repeat("a", int(*s.MaxLength)+1), "maxLength")
	}
	if members := enumStrings(s); len(members) > 0 {
		first := members[0]
		if base != "" {
			first = base
		}
		for _, c := range []string{"Bogus", strings.ToLower(first), strings.ToUpper(first), " " + first, first + " ", ""} {
			if !slices.Contains(members, c) {
				add(c, "enum")
			}
		}
	}
	if s.Pattern != "" {
		re := regexp.MustCompile(s.Pattern)
		for _, c := range patternMutations(base) {
			if !re.MatchString(c) {
				add(c, "pattern")
			}
		}
		if strings.Contains(s.Pattern, "@") {
			// Addresses the pattern takes that mail cannot use: the
			// operator must find these itself.
			for _, c := range addressCandidates() {
				if re.MatchString(c) && !bareAddress(c) {
					add(c, "net/mail")
				}
			}
		}
	}
	if s.Format == "date-time" {
		for _, c := range []string{"not a date", "2026-11-20", "2026-11-20 09:30:00", "20/11/2026 09:30", "2026-11-20T09:30:00",
			"2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-20T25:00:00Z", "10000-01-01T00:00:00Z", "", "1700000000"} {
			add(c, "date-time")
		}
		for _, c := range []string{"2062-11-20T09:30:00Z", "9999-12-31T23:59:59Z"} {
			add(c, "future")
		}
	}
	for _, c := range ruleValues(s.XValidations, base) {
		add(c, "rule")
	}
	add(int64(42), "type")
	add(true, "type")
	return out
}

// patternMutations are near misses of a value a pattern takes: blanks,
// spaces around it, other scripts, separators in the wrong place, digits
// out of range.
func patternMutations(base string) []string {
	seed := base
	if seed == "" {
		seed = "example"
	}
	out := []string{"", " ", "  ", seed + " ", " " + seed, "two words", strings.ToUpper(seed), seed + "é", "ünïcödé", "日本語",
		"a/b", seed + "/", "/" + seed, "@", seed + "@", "@" + seed, "a@@b", "-" + seed, seed + "-", "." + seed, seed + ".",
		"a..b", "\t", seed + "\n", "<b>x</b>", "a;b", "*", "%2F", "a:b", "a,b", "a\\b", "'", `"`, seed[1:]}
	if at := strings.Index(seed, "@"); at > 0 {
		out = append(out, seed[:at], seed[at:], strings.Replace(seed, "@", "@@", 1), seed[at+1:]+"@"+seed[:at]+".", "<"+seed+">", "Name <"+seed+">")
	}
	var digits []int
	for i, c := range seed {
		if c >= '0' && c <= '9' {
			digits = append(digits, i)
		}
	}
	if len(seed) > 32 && len(digits) > 4 {
		// A digest: each digit stands for any other, and how many a
		// digest has varies with what it digests.
		digits = append(digits[:2], digits[len(digits)-2:]...)
	}
	for _, i := range digits {
		out = append(out, seed[:i]+"9"+seed[i+1:], seed[:i]+"x"+seed[i+1:])
	}
	return out
}

// addressCandidates are odd but printable addresses, to find any the
// address patterns take and net/mail does not.
func addressCandidates() []string {
	var out []string
	for c := byte('!'); c <= '~'; c++ {
		out = append(out, "a"+string(c)+"b@example.org", string(c)+"@example.org", "a@example"+string(c)+"org")
	}
	return append(out, "a@b", "a@1.2.3.4", "a.@example.org", "a@example..org", strings.Repeat("a", 65)+"@example.org")
}

// bareAddress is true for an address net/mail reads back unchanged.
func bareAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

func badIntegers(s *apiextensionsv1.JSONSchemaProps) []badValue {
	var out []badValue
	seen := map[any]bool{}
	add := func(value any, why string) {
		if !seen[value] {
			seen[value] = true
			out = append(out, badValue{value, why})
		}
	}
	if s.Minimum != nil {
		add(int64(*s.Minimum)-1, "minimum")
	}
	if s.Maximum != nil {
		add(int64(*s.Maximum)+1, "maximum")
	}
	if s.Format == "int32" {
		add(int64(math.MaxInt32)+1, "int32")
		add(int64(math.MinInt32)-1, "int32")
	}
	add(int64(99999999999), "overflow")
	add("12", "type")
	add(1.5, "type")
	add(true, "type")
	return out
}

func enumStrings(s *apiextensionsv1.JSONSchemaProps) []string {
	var out []string
	for _, e := range s.Enum {
		var v string
		if yaml.Unmarshal(e.Raw, &v) == nil {
			out = append(out, v)
		}
	}
	return out
}

// badDurations are the ways people get a duration wrong: words, days,
// signs, exponents, spaces, case, ISO 8601, a unit left off. Those a
// field's rules accept are dropped for that field.
// futureAllowed are the times that may rightly lie in the future: a
// manager's planned absence.
// A PolicyTest's times are those of a hypothetical incident, which may be
// set at any time.
var futureAllowed = regexp.MustCompile(`^(Department spec\.absences\[\d+\]\.(from|until)|PolicyTest spec\.cases\[\d+\]\..*)$`)

// futureCheckedElsewhere are the times of a Filing's steps: each step is
// recorded on a Filing that has the steps before it (a filing needs its
// draft, a letter the filing), which the Filing the sweep stores has not,
// so a case setting the time alone is refused for the missing step. The
// operator's report of a step's time in the future is shown by controllers
// TestFilingTimesAreChecked.
var futureCheckedElsewhere = regexp.MustCompile(`^Filing spec\.(filed|acknowledgement|correspondence\[\d+\])\.at$`)

// serverWritten are the attested accounts, and the record of each change,
// that the API server writes itself.
var serverWritten = regexp.MustCompile(`^spec\.(reportedBy|acknowledgement\.attestedBy|resolution\.attestedBy|authorityNotification\.recordedBy|changes|imported|legalHold\.placedBy|legalHold\.released\.by|collectedBy|custody\[\d+\]\.attestedBy|signOffs\[\d+\]\.by|decision\.decidedBy|draft\.draftedBy|agreements\[\d+\]\.by|filed\.by|acknowledgement\.by|correspondence\[\d+\]\.by)$`)

var badDurations = []string{"5 minutes", "1d", "2 hours", "1e100h", "-72h", "0s", "73h", "9999999h", "", " 5m", "5m ", "5M",
	"P1D", "PT5M", "1h30", "5", "m", "1w", "1.5.5h", "10us", "1h 30m", "+5m", "８h", "5mins", "NaN", "99999h", "1.0001h", "0.5"}

var (
	ruleMatches  = regexp.MustCompile(`self\.matches\('([^']*)'\)`)
	ruleBound    = regexp.MustCompile(`duration\(self\)\s*(<=|<|>=|>)\s*duration\('([^']*)'\)`)
	ruleNotEqual = regexp.MustCompile(`^self != '([^']*)'$`)
	ruleNotBlank = regexp.MustCompile(`^self\.trim\(\)\.size\(\) > 0$|^self\.matches\(r'\[\\p\{L\}`)
	// ruleWhole asks a duration for whole seconds.
	ruleWhole = regexp.MustCompile(`duration\(self\)\.getMilliseconds\(\) % 1000 == 0`)
	// ruleSince bounds a time from below.
	ruleSince = regexp.MustCompile(`^self >= timestamp\('([^']*)'\)$`)
	// ruleRefuses refuses the characters of a class, such as controls.
	ruleRefuses = regexp.MustCompile(`^!self\.matches\(r'(.*)'\)$`)
	// ruleAlso lets one value through besides those its expression matches.
	ruleAlso = regexp.MustCompile(`^self == '([^']*)' \|\| `)
)

// durationFormat is true for the expression of Duration's format, as
// opposed to that of a rule asking a string to match something else.
func durationFormat(expr string) bool { return strings.Contains(expr, "(ms|s|m|h)") }

func leafRuleKnown(rule string) bool {
	return ruleMatches.MatchString(rule) || ruleBound.MatchString(rule) || ruleNotEqual.MatchString(rule) || ruleNotBlank.MatchString(rule) ||
		ruleSince.MatchString(rule) || ruleRefuses.MatchString(rule)
}

// zoneNearMisses are time zone names that a time zone database may load
// but that are not a canonical zone: the host's own zone under each of its
// names, aliases, rules, and paths that reach a zone file.
var zoneNearMisses = []string{"Local", "localtime", "posixrules", "Factory", "GB", "US/Eastern", "EST5EDT", "EST", "Etc/Zulu", "Etc/GMT+13",
	"UCT", "GMT", "Zulu", "europe/london", "Europe/London/", "Europe/../London", "posix/Europe/London", "right/Europe/London"}

// unprintable are values holding one character of each kind that does not
// print as one line: controls, escapes, bidirectional marks and overrides.
var unprintable = []string{"a\nb", "a\tb", "a\rb", "a\x1b[31mb", "a\x00b", "a\x7fb", "a\u0085b", "a\u202eb", "a\u2066b", "a\u200fb"}

// ruleValues derives bad values from a string field's rules: durations the
// format or the range refuses, including values just past each bound and
// fractions of a second where whole seconds are asked for; blanks where a
// rule wants text; the one value a rule forbids; times before the first a
// rule takes; characters a rule refuses; near misses of an expression a
// rule wants matched. base is the sample's value.
func ruleValues(rules apiextensionsv1.ValidationRules, base string) []string {
	var format *regexp.Regexp
	type bound struct {
		op string
		d  time.Duration
	}
	var bounds []bound
	whole := false
	var out []string
	for _, r := range rules {
		if strings.Contains(r.Rule, "oldSelf") {
			continue
		}
		if m := ruleMatches.FindStringSubmatch(r.Rule); m != nil && durationFormat(m[1]) {
			format = regexp.MustCompile(m[1])
		} else if m != nil {
			out = append(out, nearMisses(regexp.MustCompile(m[1]), r.Rule, base)...)
		}
		for _, m := range ruleBound.FindAllStringSubmatch(r.Rule, -1) {
			d, err := time.ParseDuration(m[2])
			if err == nil {
				bounds = append(bounds, bound{m[1], d})
			}
		}
		whole = whole || ruleWhole.MatchString(r.Rule)
		if m := ruleNotEqual.FindStringSubmatch(r.Rule); m != nil {
			out = append(out, m[1])
		}
		if ruleNotBlank.MatchString(r.Rule) {
			out = append(out, " ", "   ", "\t", " \n ", "\u00a0", "\u3000", "\u200b")
		}
		if m := ruleSince.FindStringSubmatch(r.Rule); m != nil {
			if first, err := time.Parse(time.RFC3339, m[1]); err == nil {
				out = append(out, first.Add(-time.Second).Format(time.RFC3339), "0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "1970-01-01T00:00:00Z")
			}
		}
		if m := ruleRefuses.FindStringSubmatch(r.Rule); m != nil {
			refused := regexp.MustCompile(m[1])
			for _, c := range unprintable {
				if refused.MatchString(c) {
					out = append(out, c)
				}
			}
		}
	}
	if format == nil && len(bounds) == 0 {
		return out
	}
	candidates := slices.Clone(badDurations)
	if whole {
		candidates = append(candidates, "90.5s", "1h0.001s")
	}
	for _, b := range bounds {
		switch b.op {
		case "<=":
			candidates = append(candidates, (b.d + time.Millisecond).String(), (b.d + time.Hour).String())
		case "<", ">":
			candidates = append(candidates, b.d.String(), "0ms", "0h")
		case ">=":
			candidates = append(candidates, (b.d - time.Millisecond).String(), (b.d - time.Second).String(), "0.5ms")
		}
		if whole {
			// In range, but not in whole seconds.
			candidates = append(candidates, (b.d + 500*time.Millisecond).String())
		}
	}
	valid := func(s string) bool {
		if format != nil && !format.MatchString(s) {
			return false
		}
		d, err := time.ParseDuration(s)
		if err != nil || (whole && d%time.Second != 0) {
			return false
		}
		for _, b := range bounds {
			if (b.op == "<=" && d > b.d) || (b.op == "<" && d >= b.d) || (b.op == ">=" && d < b.d) || (b.op == ">" && d <= b.d) {
				return false
			}
		}
		return true
	}
	for _, c := range candidates {
		if !valid(c) && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// nearMisses are values near base that expr does not match, and that the
// rule does not let through besides.
func nearMisses(expr *regexp.Regexp, rule, base string) []string {
	also := ""
	if m := ruleAlso.FindStringSubmatch(rule); m != nil {
		also = m[1]
	}
	var out []string
	for _, c := range append(patternMutations(base), zoneNearMisses...) {
		if c != also && c != base && !expr.MatchString(c) {
			out = append(out, c)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
