package plugin

import (
	"strings"
	"testing"
)

// A title, a description and a reporter's name holding a terminal
// hyperlink that hides where it leads and a bidi override are stored as
// typed, and every command prints them as text: through the real kubectl,
// nothing reaches the terminal that could act on it.
func TestControlCharactersArePrintedAsText(t *testing.T) {
	const ns = "control-characters"
	newNamespace(t, ns)
	const hostile = "\x1b]8;;http://evil\x07click\x1b]8;;\x07 \u202eevil"
	const shown = `\x1b]8;;http://evil\x07click\x1b]8;;\x07 \u202eevil`
	succeeds(t, reporter, "report", "-n", ns, "--name", "evil", "--title", hostile, "--description", hostile+"\nsecond line",
		"--reporter-name", hostile, "--category", "Phishing", "--severity", "Low", "--line-manager", "Tom:tom@example.org")
	if got := jsonpath(t, ns, "incident/evil", ".spec.title"); got != hostile {
		t.Fatalf("stored title %q, want %q", got, hostile)
	}
	succeeds(t, responder, "ack", "evil", "-n", ns, "--by", hostile, "--note", hostile)
	for _, c := range []struct {
		user  string
		args  []string
		shows string
	}{
		{viewer, []string{"list"}, shown},
		{responder, []string{"why", "evil"}, `"` + shown + `"`},
		{viewer, []string{"timeline", "evil"}, shown},
		{viewer, []string{"export", "--since", "1d", "-o", "csv"}, shown},
		{viewer, []string{"export", "--since", "1d", "-o", "markdown"}, shown},
		{viewer, []string{"list", "-o", "json"}, `\u001b]8;;http://evil\u0007click\u001b]8;;\u0007 \u202eevil`},
	} {
		out := succeeds(t, c.user, append(c.args, "-n", ns)...)
		for _, raw := range []string{"\x1b", "\x07", "\u202e"} {
			if strings.Contains(out, raw) {
				t.Errorf("kubectl incident %s printed %q as it is: %q", strings.Join(c.args, " "), raw, out)
			}
		}
		if !strings.Contains(out, c.shows) {
			t.Errorf("kubectl incident %s lacks %q: %q", strings.Join(c.args, " "), c.shows, out)
		}
	}
}
