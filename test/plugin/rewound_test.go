package plugin

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// An administrator cuts an incident's trail back to an earlier, validly
// signed head (replacing the trail object, rewinding status.audit.head):
// the chain verifies, but the incident itself still records the
// acknowledgement and the change that the cut removed, so verify says
// BROKEN and exits non-zero, with or without the key. Erasing the trail
// and the head together is caught the same way.
func TestAuditVerifyFindsARewoundTrail(t *testing.T) {
	const ns = "rewound"
	newNamespace(t, ns)
	succeeds(t, reporter, "report", "-n", ns, "--name", "cut", "--title", "Chain letter", "--category", "ChainLetter", "--severity", "Low")
	var head string
	eventually(t, 20*time.Second, func() error {
		r := incident(viewer, "audit", "verify", "cut", "-n", ns)
		if r.err != nil || !strings.Contains(r.stdout, ": verified, 3 entries") {
			return fmt.Errorf("%s", r)
		}
		head = jsonpath(t, ns, "incident/cut", ".status.audit.head")
		return nil
	})
	succeeds(t, responder, "ack", "cut", "-n", ns, "--by", "Rita")
	mustKubectl(t, "-n", ns, "patch", "incident", "cut", "--as", responder, "--type", "merge", "-p", `{"spec":{"description":"Forwarded to the whole team."}}`)
	eventually(t, 20*time.Second, func() error {
		r := incident(viewer, "audit", "verify", "cut", "-n", ns)
		if r.err != nil || strings.Contains(r.stdout, ": verified, 3 entries") || !strings.Contains(jsonpath(t, ns, "incident/cut", ".status.audit.observedGeneration"), "3") {
			return fmt.Errorf("acknowledgement and change not yet recorded: %s", r)
		}
		return nil
	})

	// The administrator stops nothing and keeps the first three entries.
	trail := strings.TrimSpace(jsonpath(t, ns, "audittrails", `.items[?(@.spec.subject.name=="cut")].metadata.name`))
	var object map[string]any
	if err := json.Unmarshal([]byte(mustKubectl(t, "-n", ns, "get", "audittrail", trail, "-o", "json")), &object); err != nil {
		t.Fatal(err)
	}
	spec := object["spec"].(map[string]any)
	spec["entries"] = spec["entries"].([]any)[:3]
	meta := object["metadata"].(map[string]any)
	object["metadata"] = map[string]any{"name": meta["name"], "namespace": meta["namespace"]}
	delete(object, "status")
	cut, err := json.Marshal(object)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "cut.json")
	if err := os.WriteFile(file, cut, 0o600); err != nil {
		t.Fatal(err)
	}
	mustKubectl(t, "-n", ns, "delete", "audittrail", trail)
	mustKubectl(t, "-n", ns, "create", "-f", file)
	mustKubectl(t, "-n", ns, "patch", "incident", "cut", "--subresource", "status", "--type", "merge", "-p", `{"status":{"audit":{"head":`+head+`}}}`)

	r := fails(t, viewer, []string{"audit", "verify", "cut", "-n", ns}, "do not verify")
	for _, want := range []string{"BROKEN: the trail verifies as a chain but lacks what the incident records", "the acknowledgement (status.acknowledgedAt)", "the change of generation"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("verify of a rewound trail lacks %q:\n%s", want, r)
		}
	}

	// Erased: trail and head both gone.
	mustKubectl(t, "-n", ns, "delete", "audittrail", trail)
	mustKubectl(t, "-n", ns, "patch", "incident", "cut", "--subresource", "status", "--type", "json", "-p", `[{"op":"remove","path":"/status/audit"}]`)
	r = fails(t, viewer, []string{"audit", "verify", "--all", "-n", ns}, "do not verify")
	if !strings.Contains(r.stdout, "the operator has handled the incident") {
		t.Errorf("verify --all of an erased trail:\n%s", r)
	}
}
