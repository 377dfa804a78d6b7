package notify

import (
	"reflect"
	"strings"
)

// Chat services read markup in the text they are sent: Slack's mrkdwn turns
// <!channel> into a mention of everyone and <https://x|y> into a link;
// Teams reads <at>...</at> mentions and Markdown links and emphasis. The text
// of an incident is written by whoever reports it, so chat messages are
// rendered from a copy of the message whose every string is escaped for the
// channel. The template's own text, the policy author's markup, is left as it
// is.

// slackEscaper turns the three characters Slack parses into the entities it
// shows as those characters.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// teamsEscaper backslash-escapes what starts a mention, a link, emphasis or
// code in an Adaptive Card's Markdown. Names, keys and enumerations contain
// none of these, so only free text changes.
var teamsEscaper = strings.NewReplacer(
	`\`, `\\`, `*`, `\*`, `_`, `\_`, `~`, `\~`, "`", "\\`",
	`[`, `\[`, `]`, `\]`, `<`, `\<`, `>`, `\>`,
)

// escapeMessage is a deep copy of msg with every string escaped: every
// string, not a list of fields, so that a field added later is escaped too.
func escapeMessage(msg Message, r *strings.Replacer) Message {
	return escapeValue(reflect.ValueOf(msg), r).Interface().(Message)
}

func escapeValue(v reflect.Value, r *strings.Replacer) reflect.Value {
	out := reflect.New(v.Type()).Elem()
	out.Set(v)
	switch v.Kind() {
	case reflect.String:
		out.SetString(r.Replace(v.String()))
	case reflect.Pointer:
		if !v.IsNil() {
			p := reflect.New(v.Type().Elem())
			p.Elem().Set(escapeValue(v.Elem(), r))
			out.Set(p)
		}
	case reflect.Slice:
		if !v.IsNil() {
			s := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
			for i := range v.Len() {
				s.Index(i).Set(escapeValue(v.Index(i), r))
			}
			out.Set(s)
		}
	case reflect.Map:
		if !v.IsNil() {
			m := reflect.MakeMapWithSize(v.Type(), v.Len())
			for it := v.MapRange(); it.Next(); {
				m.SetMapIndex(escapeValue(it.Key(), r), escapeValue(it.Value(), r))
			}
			out.Set(m)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			// Unexported fields (time.Time's) hold no text and cannot be set.
			if f := out.Field(i); f.CanSet() {
				f.Set(escapeValue(v.Field(i), r))
			}
		}
	}
	return out
}
