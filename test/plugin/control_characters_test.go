package plugin

import (
	"strings"
	"testing"
)

// A title and a reporter's name holding a terminal hyperlink that hides
// where it leads and a bidi override are refused by the API server, naming
// the field; a description and a note, which may run over lines, are
// stored as typed, and every command prints them as text: through the real
// kubectl, nothing reaches the terminal that could act on it.
func TestControlCharactersArePrintedAsText(t *testing.T) {
	const ns = "control-characters"
	newNamespace(t, ns)
	const hostile = "\x1b]8;;http://evil\x07click\x1b]8;;\x07 \u202eevil"
	const shown = `\x1b]8;;http://evil\x07click\x1b]8;;\x07 \u202eevil`
	for flag, field := range map[string]string{"--title": "spec.title", "--reporter-name": "spec.reporter.name"} {
		args := map[string]string{"--title": "Phishing mail", "--reporter-name": "Sam Jones"}
		args[flag] = hostile
		fails(t, reporter, []string{"report", "-n", ns, "--name", "refused", "--title", args["--title"],
			"--reporter-name", args["--reporter-name"], "--category", "Phishing", "--severity", "Low", "--line-manager", "Tom:tom@example.org"},
			field, "must be one line of printable text")
	}
	succeeds(t, reporter, "report", "-n", ns, "--name", "evil", "--title", "Phishing mail", "--description", hostile+"\nsecond line",
		"--reporter-name", "Sam Jones", "--category", "Phishing", "--severity", "Low", "--line-manager", "Tom:tom@example.org")
	if got := jsonpath(t, ns, "incident/evil", ".spec.description"); got != hostile+"\nsecond line" {
		t.Fatalf("stored description %q, want %q", got, hostile)
	}
	succeeds(t, responder, "ack", "evil", "-n", ns, "--by", "Rita", "--note", hostile)
	for _, c := range []struct {
		user  string
		args  []string
		shows string
	}{
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
