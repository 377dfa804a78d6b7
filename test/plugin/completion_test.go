package plugin

import (
	"slices"
	"strings"
	"testing"
)

// NAME arguments complete with the namespace's incidents, flags with
// their values, through the plugin and through kubectl's own completion
// (which runs kubectl_complete-incident).
func TestCompletion(t *testing.T) {
	const ns = "complete"
	newNamespace(t, ns)
	for _, name := range []string{"alpha", "bravo"} {
		succeeds(t, reporter, "report", "-n", ns, "--name", name, "--title", "Title "+name, "--category", "Other", "--severity", "Low", "--wait=false")
	}
	completions := func(out string) []string {
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.HasPrefix(line, ":") && !strings.HasPrefix(line, "Completion ended") {
				got = append(got, line)
			}
		}
		return got
	}
	want := []string{"alpha\tTitle alpha", "bravo\tTitle bravo"}
	if got := completions(succeeds(t, "", "__complete", "ack", "-n", ns, "")); !slices.Equal(got, want) {
		t.Errorf("kubectl incident __complete ack = %q, want %q", got, want)
	}
	if got := completions(succeeds(t, "", "__complete", "why", "-n", ns, "br")); !slices.Equal(got, want[1:]) {
		t.Errorf("completing br = %q, want %q", got, want[1:])
	}
	stdout, stderr, err := execute(kubectlBinary(), "", "__complete", "incident", "timeline", "-n", ns, "")
	if got := completions(stdout); err != nil || !slices.Equal(got, want) {
		t.Errorf("kubectl __complete incident timeline = %q (%v, %s), want %q", got, err, stderr, want)
	}
	if got := completions(succeeds(t, "", "__complete", "report", "--severity", "")); !slices.Equal(got, []string{"Low", "Medium", "High", "Critical"}) {
		t.Errorf("--severity completes to %q", got)
	}
	if out := succeeds(t, "", "completion", "bash"); !strings.Contains(out, "bash completion V2 for incident") {
		t.Errorf("completion bash:\n%.300s", out)
	}
}
