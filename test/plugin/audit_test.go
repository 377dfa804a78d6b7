package plugin

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/incidentops/incident-operator/internal/testenv"
)

// audit verify passes whole trails, with and without the signing keys,
// including the sealed trail of a deleted incident; after an
// administrator appends a forged entry it fails, naming the incident and
// that entry.
func TestAuditVerify(t *testing.T) {
	const ns = "audit"
	newNamespace(t, ns)
	for _, name := range []string{"audited", "gone"} {
		succeeds(t, reporter, "report", "-n", ns, "--name", name, "--title", "Chain letter "+name, "--category", "ChainLetter", "--severity", "Low")
	}
	// Reported, Routed, Notified: then nothing more happens to them.
	for _, name := range []string{"audited", "gone"} {
		eventually(t, 20*time.Second, func() error {
			r := incident(viewer, "audit", "verify", name, "-n", ns)
			if r.err != nil || !strings.Contains(r.stdout, ": verified, 3 entries, ending at the incident's status.audit.head") {
				return fmt.Errorf("%s", r)
			}
			return nil
		})
	}
	out := succeeds(t, viewer, "audit", "verify", "audited", "-n", ns)
	if !strings.Contains(out, "Signatures were NOT checked (no --key-file)") {
		t.Errorf("verify without keys does not say the signatures were not checked:\n%s", out)
	}

	dir := t.TempDir()
	keyNamespace, keyName, _ := strings.Cut(testenv.AuditKeySecret, "/")
	secretFile := filepath.Join(dir, "keys.yaml")
	writeFile(t, secretFile, mustKubectl(t, "-n", keyNamespace, "get", "secret", keyName, "-o", "yaml"))
	// The operator made the Secret with one key, under an id of its own.
	keyID := mustKubectl(t, "-n", keyNamespace, "get", "secret", keyName, "-o", "go-template={{range $id, $_ := .data}}{{$id}}{{end}}")
	out = succeeds(t, viewer, "audit", "verify", "audited", "-n", ns, "--key-file", secretFile)
	if !strings.Contains(out, "verified, 3 entries") || !strings.Contains(out, "Signatures were checked, with the audit key ring ["+keyID+"]") {
		t.Errorf("verify with the Secret as key file:\n%s", out)
	}
	wrongFile := filepath.Join(dir, "wrong.keys")
	writeFile(t, wrongFile, keyID+"="+hex.EncodeToString([]byte("not the operator's key, not at all"))+"\n")
	fails(t, viewer, []string{"audit", "verify", "audited", "-n", ns, "--key-file", wrongFile},
		"audit/audited: entry 0: signature does not verify with key \""+keyID+"\"")

	// A deleted incident leaves its trail, sealed by the Deleted entry.
	mustKubectl(t, "-n", ns, "delete", "incident", "gone", "--wait=true", "--timeout=30s")
	out = succeeds(t, viewer, "audit", "verify", "gone", "-n", ns, "--key-file", secretFile)
	if !strings.Contains(out, "incident deleted): verified, 4 entries, sealed by its Deleted entry") {
		t.Errorf("verify of a deleted incident:\n%s", out)
	}

	// Its timeline is its trail, ending with the deletion.
	r := incident(viewer, "timeline", "gone", "-n", ns)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if last := strings.Fields(lines[len(lines)-1]); r.err != nil || len(lines) != 5 || len(last) < 7 || strings.Join(last[3:7], " ") != "audit #3 unknown Deleted" ||
		!strings.Contains(r.stderr, "is deleted: its audit trail is all that is left of it") {
		t.Errorf("timeline of a deleted incident: want its 4 entries, the last its deletion by someone the trail cannot name:\n%s", r)
	}

	// An administrator, who may append, forges an entry after the head.
	uid := jsonpath(t, ns, "incident/audited", ".metadata.uid")
	trail := strings.TrimSpace(jsonpath(t, ns, "audittrails", `.items[?(@.spec.subject.name=="audited")].metadata.name`))
	last := jsonpath(t, ns, "audittrail/"+trail, ".spec.entries[-1:].hash")
	seq, err := strconv.Atoi(jsonpath(t, ns, "audittrail/"+trail, ".spec.entries[-1:].sequence"))
	if err != nil {
		t.Fatal(err)
	}
	forged := fmt.Sprintf(`[{"op":"add","path":"/spec/entries/-","value":{"sequence":%d,"time":"%s","actor":{"username":"mallory"},"action":"Acknowledged","previousHash":"%s","hash":"%s","keyID":"k1","signature":"%s"}}]`,
		seq+1, time.Now().UTC().Format("2006-01-02T15:04:05.000000Z"), last, strings.Repeat("a", 64), strings.Repeat("b", 64))
	mustKubectl(t, "-n", ns, "patch", "audittrail", trail, "--type", "json", "-p", forged)

	r = fails(t, viewer, []string{"audit", "verify", "audited", "-n", ns},
		fmt.Sprintf("audit/audited: entry %d: ", seq+1))
	if !strings.Contains(r.stdout, fmt.Sprintf("audit/audited (uid %s): BROKEN: entry %d: hash does not match its content (edited?)", uid[:8], seq+1)) {
		t.Errorf("verify after the forgery does not name the forged entry:\n%s", r)
	}
	// --all names the broken trail and passes the others.
	r = fails(t, viewer, []string{"audit", "verify", "--all", "-n", ns, "--key-file", secretFile}, "1 audit trail(s) do not verify", "audit/audited: entry")
	if !strings.Contains(r.stdout, "incident deleted): verified, 4 entries") {
		t.Errorf("verify --all does not pass the sealed trail:\n%s", r)
	}
	fails(t, viewer, []string{"audit", "verify", "-n", ns}, "give one incident NAME, or --all")
	fails(t, viewer, []string{"audit", "verify", "nothing-here", "-n", ns}, `there is no incident "nothing-here" in namespace "audit", and no audit trail of one`)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
