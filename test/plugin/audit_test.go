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

// logKeyFile is the audit log's public key as an auditor keeps it: what
// kubectl incident audit key prints, read by the administrator.
func logKeyFile(t *testing.T) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "audit-log.pub")
	writeFile(t, file, succeeds(t, "", "audit", "key"))
	return file
}

// audit verify passes whole records with only the published public key,
// including that of a deleted incident, which ends with its deletion; after
// an administrator who holds no log key appends a forged batch it fails,
// naming the entry's index in the log, the incident and its UID; a batch
// removed from the middle of the log is named by the entries it held.
func TestAuditVerify(t *testing.T) {
	const ns = "audit"
	newNamespace(t, ns)
	key := logKeyFile(t)
	if text, _ := os.ReadFile(key); !strings.Contains(string(text), "\norigin ") {
		t.Fatalf("audit key prints no origin:\n%s", text)
	}
	for _, name := range []string{"audited", "gone"} {
		succeeds(t, reporter, "report", "-n", ns, "--name", name, "--title", "Chain letter "+name, "--category", "ChainLetter", "--severity", "Low")
	}
	// Reported, Routed, Notified: then nothing more happens to them.
	for _, name := range []string{"audited", "gone"} {
		eventually(t, 20*time.Second, func() error {
			r := incident(viewer, "audit", "verify", name, "-n", ns, "--log-key", key)
			if r.err != nil || !strings.Contains(r.stdout, ": verified, 3 entries, as many as its status counts") {
				return fmt.Errorf("%s", r)
			}
			return nil
		})
	}
	// An administrator reads the key from the operator's ConfigMap.
	out := succeeds(t, "", "audit", "verify", "audited", "-n", ns)
	if !strings.Contains(out, "Checkpoints were checked with the audit log key") {
		t.Errorf("verify does not say the checkpoints were checked:\n%s", out)
	}
	// A viewer who may not read it is told to give the key.
	fails(t, viewer, []string{"audit", "verify", "audited", "-n", ns}, "give --log-key and --log-origin instead")

	// A deleted incident's entries stay in the log, ending with the
	// deletion.
	mustKubectl(t, "-n", ns, "delete", "incident", "gone", "--wait=true", "--timeout=30s")
	out = succeeds(t, viewer, "audit", "verify", "gone", "-n", ns, "--log-key", key)
	if !strings.Contains(out, "incident deleted): verified, 4 entries, ending with its Deleted entry") {
		t.Errorf("verify of a deleted incident:\n%s", out)
	}
	// Its timeline is its record, ending with the deletion.
	r := incident(viewer, "timeline", "gone", "-n", ns)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if last := strings.Fields(lines[len(lines)-1]); r.err != nil || len(lines) != 5 || len(last) < 7 || strings.Join(last[3:7], " ") != "audit #3 unknown Deleted" ||
		!strings.Contains(r.stderr, "is deleted: its audit trail is all that is left of it") {
		t.Errorf("timeline of a deleted incident: want its 4 entries, the last its deletion by someone the record cannot name:\n%s", r)
	}
	out = succeeds(t, viewer, "audit", "verify", "--all", "-n", ns, "--log-key", key)
	if !strings.Contains(out, "namespace audit audit log: verified, 7 entries in ") {
		t.Errorf("verify --all does not pass the log:\n%s", out)
	}

	// An administrator, who may append but holds no log key, forges a
	// batch that links to the last: its checkpoint does not verify.
	uid := jsonpath(t, ns, "incident/audited", ".metadata.uid")
	batches := strings.Fields(jsonpath(t, ns, "auditbatches", ".items[*].metadata.name"))
	var last struct {
		Spec struct {
			First      int64  `json:"first"`
			Entries    string `json:"entries"`
			Root       string `json:"root"`
			Checkpoint string `json:"checkpoint"`
		} `json:"spec"`
	}
	if err := json.Unmarshal([]byte(mustKubectl(t, "-n", ns, "get", "auditbatch", batches[len(batches)-1], "-o", "json")), &last); err != nil {
		t.Fatal(err)
	}
	index := last.Spec.First + int64(strings.Count(last.Spec.Entries, "\n"))
	forged := map[string]any{
		"apiVersion": "security.incidentops.io/v1alpha1", "kind": "AuditBatch",
		"metadata": map[string]any{"name": fmt.Sprintf("log-%019d", index), "namespace": ns},
		"spec": map[string]any{
			"first":      index,
			"entries":    fmt.Sprintf(`{"index":%d,"namespace":"%s","incident":"audited","uid":"%s","action":"Resolved","actor":"mallory","time":"%s"}`+"\n", index, ns, uid, time.Now().UTC().Format(time.RFC3339Nano)),
			"previous":   last.Spec.Root, // not the previous batch's hash either
			"root":       last.Spec.Root,
			"checkpoint": last.Spec.Checkpoint,
		},
	}
	data, err := json.Marshal(forged)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "forged.json")
	writeFile(t, file, string(data))
	mustKubectl(t, "create", "-f", file)

	r = fails(t, viewer, []string{"audit", "verify", "audited", "-n", ns, "--log-key", key}, "audit/audited: the namespace's audit log: entry ")
	if !strings.Contains(r.stdout, fmt.Sprintf("audit/audited (uid %s): BROKEN: the namespace's audit log: entry %d (incident audit/audited uid %s)", uid[:8], index, uid)) {
		t.Errorf("verify after the forgery does not name the forged entry:\n%s", r)
	}
	r = fails(t, viewer, []string{"audit", "verify", "--all", "-n", ns, "--log-key", key}, "do not verify")
	if !strings.Contains(r.stdout, "namespace audit audit log: BROKEN: entry ") {
		t.Errorf("verify --all does not say the log is broken:\n%s", r)
	}
	fails(t, viewer, []string{"audit", "verify", "-n", ns, "--log-key", key}, "give one incident NAME, or --all")
	fails(t, viewer, []string{"audit", "verify", "nothing-here", "-n", ns, "--log-key", key}, `there is no incident "nothing-here" in namespace "audit", and no audit record of one`)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
