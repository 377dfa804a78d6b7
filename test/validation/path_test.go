package validation_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// path is where a value sits in an object: map keys and list indexes.
type path []any

// String writes the path as the API server names fields in its errors:
// spec.escalation.levels[1].after.
func (p path) String() string {
	var b strings.Builder
	for _, seg := range p {
		switch s := seg.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", s)
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s)
		}
	}
	return b.String()
}

func (p path) with(seg ...any) path {
	return append(append(path{}, p...), seg...)
}

// removed stands for a value taken out of the object.
type removal struct{}

var removed = removal{}

// setAt returns node with value at p, creating the maps and lists on the way
// that the node lacks. removed deletes the key at p instead.
func setAt(node any, p path, value any) any {
	if len(p) == 0 {
		return value
	}
	switch seg := p[0].(type) {
	case string:
		m, _ := node.(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		if len(p) == 1 && value == removed {
			delete(m, seg)
			return m
		}
		m[seg] = setAt(m[seg], p[1:], value)
		return m
	case int:
		l, _ := node.([]any)
		for len(l) <= seg {
			l = append(l, nil)
		}
		l[seg] = setAt(l[seg], p[1:], value)
		return l
	}
	panic(fmt.Sprintf("path segment %T", p[0]))
}

// getAt is the value at p, and whether there is one.
func getAt(node any, p path) (any, bool) {
	for _, seg := range p {
		switch s := seg.(type) {
		case string:
			m, ok := node.(map[string]any)
			if !ok {
				return nil, false
			}
			if node, ok = m[s]; !ok {
				return nil, false
			}
		case int:
			l, ok := node.([]any)
			if !ok || s >= len(l) {
				return nil, false
			}
			node = l[s]
		}
	}
	return node, true
}

// show writes a value short enough for a line of the report.
func show(v any) string {
	if v == removed {
		return "(removed)"
	}
	if l, ok := v.([]any); ok && len(l) > 3 {
		return fmt.Sprintf("[%d items]", len(l))
	}
	b, _ := json.Marshal(v)
	s := string(b)
	if str, ok := v.(string); ok {
		s = strconv.Quote(str) // escapes what does not print, such as U+200B
	}
	if r := []rune(s); len(r) > 48 {
		// Both ends: a near miss may differ from the base at either.
		s = fmt.Sprintf("%s…%s(%d chars)", string(r[:24]), string(r[len(r)-10:]), len(r))
	}
	return s
}

// A problem is one thing an answer says is wrong: the field, when the answer
// names one apart from its text, and the text.
type problem struct{ field, message string }

func (p problem) String() string {
	if p.field == "" {
		return p.message
	}
	return p.field + ": " + p.message
}

var (
	index         = regexp.MustCompile(`\[[0-9]+\]`)
	trailingIndex = regexp.MustCompile(`\[[0-9]+\]$`)
	fieldLike     = regexp.MustCompile(`^[a-z][A-Za-z0-9]*(\[[0-9]+\]|\.[A-Za-z][A-Za-z0-9]*)*$`)
)

// byKey is an item of a list named by its key, as the operator names a
// custody transfer: spec.custody[sequence=1].
var byKey = regexp.MustCompile(`\[sequence=([0-9]+)\]`)

// conditionProblems splits a condition message the operator writes, one
// `<field path>: <message>` a problem joined by "; ", into problems. A
// custody transfer named by its sequence is the item of that index, as
// transfers are numbered from 0 without gaps.
func conditionProblems(message string) []problem {
	problems := []problem{{message: message}}
	for _, part := range strings.Split(message, "; ") {
		field, text, ok := strings.Cut(part, ": ")
		field = byKey.ReplaceAllString(field, "[$1]")
		if ok && fieldLike.MatchString(field) {
			problems = append(problems, problem{field, text})
		}
	}
	return problems
}

// names reports whether the problems name field: as the field of a problem,
// or written out in a message, or as a field above it whose message names
// the rest of the path (`spec.sla.calendar: timeZone "Mars/Base": …`),
// perhaps without list indexes when it quotes the value
// (`levels[].notify[].receiver`, `holidays: "2026-02-30" is not a date`).
// With exact false, a field below field names it too: a duplicate in a
// list is named as the list's item.
func names(problems []problem, field string, exact bool) bool {
	for _, p := range problems {
		switch {
		case p.field == field:
			return true
		case !exact && below(p.field, field):
			return true
		case p.field != "" && below(field, p.field):
			rest := strings.TrimPrefix(strings.TrimPrefix(field, p.field), ".")
			if strings.Contains(p.message, rest) ||
				strings.Contains(p.message, index.ReplaceAllString(rest, "[]")) ||
				(trailingIndex.MatchString(rest) && strings.Contains(p.message, trailingIndex.ReplaceAllString(rest, ""))) {
				return true
			}
		}
		if mentions(p.message, field, exact) {
			return true
		}
	}
	return false
}

// below is true when field lies under parent: parent.x or parent[i].
func below(field, parent string) bool {
	return parent != "" && len(field) > len(parent) && strings.HasPrefix(field, parent) &&
		(field[len(parent)] == '.' || field[len(parent)] == '[')
}

// mentions is true when text writes out field as a path of its own, not as
// the start of a longer one; with exact false a path below field counts.
func mentions(text, field string, exact bool) bool {
	for from := 0; ; {
		i := strings.Index(text[from:], field)
		if i < 0 {
			return false
		}
		start, end := from+i, from+i+len(field)
		from = end
		if start > 0 && pathByte(text[start-1]) {
			continue
		}
		next := byte(' ') // the end of the text ends the path
		if end < len(text) {
			next = text[end]
		}
		longer := (next == '.' || next == '[') && end+1 < len(text) && pathByte(text[end+1]) && text[end+1] != '.'
		switch {
		case longer && !exact:
			return true
		case longer:
		case !pathByte(next) || next == '.': // a full stop ends a sentence
			return true
		}
	}
}

func pathByte(c byte) bool {
	return c == '.' || c == '[' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func TestNames(t *testing.T) {
	cases := map[string]struct {
		problems []problem
		field    string
		exact    bool
		want     bool
	}{
		"the cause's field": {
			problems: []problem{{"spec.escalation.levels[1].after", `Invalid value: "5 minutes": must be a duration`}},
			field:    "spec.escalation.levels[1].after", exact: true, want: true,
		},
		"a field below, when a list's item answers for it": {
			problems: []problem{{"spec.assets[1]", `Duplicate value: "laptop"`}},
			field:    "spec.assets", want: true,
		},
		"a field below, when the list itself must be named": {
			problems: []problem{{"spec.assets[1]", `Duplicate value: "laptop"`}},
			field:    "spec.assets", exact: true, want: false,
		},
		"a field above whose message names the rest": {
			problems: []problem{{"spec.escalation.levels", "levels[0].after must be 0s or unset"}},
			field:    "spec.escalation.levels[0].after", exact: true, want: true,
		},
		"a field above naming the rest without indexes": {
			problems: []problem{{"spec.escalation", "every escalation.levels[].notify[].receiver must name one of spec.receivers"}},
			field:    "spec.escalation.levels[0].notify[1].receiver", exact: true, want: true,
		},
		"a field above naming the list, quoting the item": {
			problems: conditionProblems(`spec.sla.calendar: holidays: "2026-02-30" is not a date (YYYY-MM-DD)`),
			field:    "spec.sla.calendar.holidays[0]", exact: true, want: true,
		},
		"a field above that does not say which item": {
			problems: []problem{{"spec.escalation.levels", "levels[1] and later each need after of at least 1s"}},
			field:    "spec.escalation.levels[2].after", exact: true, want: false,
		},
		"written out in an admission policy's message": {
			problems: []problem{{"", "ValidatingAdmissionPolicy 'x' denied request: spec.awareAt: 2062-11-20T09:30:00Z is after the incident was reported"}},
			field:    "spec.awareAt", exact: true, want: true,
		},
		"written out at the end of a sentence": {
			problems: []problem{{"", "the value must be set in spec.title."}},
			field:    "spec.title", exact: true, want: true,
		},
		"a longer name is another field": {
			problems: []problem{{"spec.titles", "Required value"}, {"", "spec.titles: Required value"}},
			field:    "spec.title", want: false,
		},
		"one problem of several the operator joined": {
			problems: conditionProblems(`spec.match.expression: no such key: nosuch; spec.receivers[1].template: receiver dpo: template: title: unexpected EOF`),
			field:    "spec.receivers[1].template", exact: true, want: true,
		},
		"a receiver named, not its field": {
			problems: conditionProblems(`receiver "desk": Secret ns/hook key "url" is not available to the operator`),
			field:    "spec.receivers[0].webhook.urlSecretRef", want: false,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := names(c.problems, c.field, c.exact); got != c.want {
				t.Errorf("names(%q, %q, exact %v) = %v, want %v", c.problems, c.field, c.exact, got, c.want)
			}
		})
	}
}
