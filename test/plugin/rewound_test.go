package plugin

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// An administrator who holds no log key cuts an incident's record back:
// deletes the batches that hold its later entries and rewinds
// status.audit.log. The log that is left verifies, but the incident itself
// still records the acknowledgement and the change that the cut removed,
// so verify says BROKEN and exits non-zero. Erasing the log and the
// position together is caught the same way.
func TestAuditVerifyFindsARewoundTrail(t *testing.T) {
	const ns = "rewound"
	newNamespace(t, ns)
	key := logKeyFile(t)
	succeeds(t, reporter, "report", "-n", ns, "--name", "cut", "--title", "Chain letter", "--category", "ChainLetter", "--severity", "Low")
	var position string
	eventually(t, 20*time.Second, func() error {
		r := incident(viewer, "audit", "verify", "cut", "-n", ns, "--log-key", key)
		if r.err != nil || !strings.Contains(r.stdout, ": verified, 3 entries") {
			return fmt.Errorf("%s", r)
		}
		position = jsonpath(t, ns, "incident/cut", ".status.audit.log")
		return nil
	})
	succeeds(t, responder, "ack", "cut", "-n", ns, "--by", "Rita")
	mustKubectl(t, "-n", ns, "patch", "incident", "cut", "--as", responder, "--type", "merge", "-p", `{"spec":{"description":"Forwarded to the whole team."}}`)
	eventually(t, 20*time.Second, func() error {
		r := incident(viewer, "audit", "verify", "cut", "-n", ns, "--log-key", key)
		if r.err != nil || strings.Contains(r.stdout, ": verified, 3 entries") || !strings.Contains(jsonpath(t, ns, "incident/cut", ".status.audit.observedGeneration"), "3") {
			return fmt.Errorf("acknowledgement and change not yet recorded: %s", r)
		}
		return nil
	})

	// The administrator keeps the batches of the first three entries.
	var list struct {
		Items []struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Spec struct {
				First int64 `json:"first"`
			} `json:"spec"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(mustKubectl(t, "-n", ns, "get", "auditbatches", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	for _, b := range list.Items {
		if b.Spec.First >= 3 {
			mustKubectl(t, "-n", ns, "delete", "auditbatch", b.Metadata.Name)
		}
	}
	mustKubectl(t, "-n", ns, "patch", "incident", "cut", "--subresource", "status", "--type", "merge", "-p", `{"status":{"audit":{"log":`+position+`}}}`)

	r := fails(t, viewer, []string{"audit", "verify", "cut", "-n", ns, "--log-key", key}, "do not verify")
	for _, want := range []string{"BROKEN: the record verifies but lacks what the incident records", "the acknowledgement (status.acknowledgedAt)", "the change of generation"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("verify of a rewound record lacks %q:\n%s", want, r)
		}
	}

	// Erased: the log and the position both gone.
	mustKubectl(t, "-n", ns, "delete", "auditbatches", "--all")
	mustKubectl(t, "-n", ns, "patch", "incident", "cut", "--subresource", "status", "--type", "json", "-p", `[{"op":"remove","path":"/status/audit"}]`)
	r = fails(t, viewer, []string{"audit", "verify", "--all", "-n", ns, "--log-key", key}, "do not verify")
	if !strings.Contains(r.stdout, "the operator has handled the incident") {
		t.Errorf("verify --all of an erased record:\n%s", r)
	}
}
