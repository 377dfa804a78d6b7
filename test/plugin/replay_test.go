package plugin

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// --replay runs the incidents the cluster stored through proposed policy
// files: the policies that told them show no change, and a change that
// drops Internal Audit from personal-data breaches fails, naming who would
// not be told, so that a pipeline can refuse it.
func TestReplayFailsAChangeThatDropsARecipient(t *testing.T) {
	const ns = "replay"
	newNamespace(t, ns)
	succeeds(t, reporter, "report", "-n", ns, "--name", "letter", "--title", "Letter sent to the wrong address",
		"--category", "UnauthorisedDisclosure", "--severity", "Medium", "--personal-data", "--line-manager", "Tom Okafor:tom@example.org")
	eventually(t, 30*time.Second, func() error {
		if got := jsonpath(t, ns, "incident/letter", `.status.notifications[?(@.receiver=="internal-audit")].state`); got != "Delivered" {
			return fmt.Errorf("internal-audit: %q", got)
		}
		return nil
	})
	dir := t.TempDir()
	same := filepath.Join(dir, "same.yaml")
	dropped := filepath.Join(dir, "dropped.yaml")
	changed := strings.Replace(policies, "escalation: {levels: [{notify: [{receiver: internal-audit}, {role: LineManager}]}]}",
		"escalation: {levels: [{notify: [{role: LineManager}]}]}", 1)
	if changed == policies {
		t.Fatal("the test policies no longer tell internal-audit as this test expects")
	}
	for path, content := range map[string]string{same: policies, dropped: changed} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	out := succeeds(t, "", "test", "-f", same, "--replay", "1d", "-n", ns)
	if !strings.Contains(out, "1 incidents reported since") || !strings.Contains(out, "0 would change, 0 recipients would not be told") {
		t.Errorf("replayed through the policies that told it:\n%s", out)
	}
	r := fails(t, "", []string{"test", "-f", dropped, "--replay", "1d", "-n", ns}, "would not tell someone a past incident told")
	for _, want := range []string{"replay/letter (reported ", "would not be told: internal-audit (told ", "1 recipients would not be told"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("replay output lacks %q:\n%s", want, r)
		}
	}
}
