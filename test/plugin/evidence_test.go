package plugin

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// A responder records evidence with the SHA-256 of a file, hands it on
// twice, and a copy is checked against it: the same bytes pass, other
// bytes fail. Two transfers sent at once never take the same place.
func TestEvidenceCustody(t *testing.T) {
	const ns = "evidence"
	newNamespace(t, ns)
	succeeds(t, reporter, "report", "-n", ns, "--name", "stolen", "--title", "Laptop stolen from reception",
		"--category", "Theft", "--severity", "High")

	dir := t.TempDir()
	export := filepath.Join(dir, "mailbox.pst")
	writeFile(t, export, "mailbox export of the stolen laptop's user\n")
	sum := sha256.Sum256([]byte("mailbox export of the stolen laptop's user\n"))
	digest := hex.EncodeToString(sum[:])

	fails(t, responder, []string{"evidence", "add", "stolen", "-n", ns, "--kind", "File", "--description", "d", "--storage-location", "s"},
		"File evidence needs its SHA-256: give --file")
	fails(t, responder, []string{"evidence", "add", "stolen", "-n", ns, "--kind", "Floppy", "--description", "d", "--storage-location", "s"},
		"use one of Device, DiskImage, File, Log, Document, PaperRecord")
	fails(t, responder, []string{"evidence", "add", "no-such-incident", "-n", ns, "--kind", "Device", "--description", "d", "--storage-location", "s"},
		`there is no incident "no-such-incident" in namespace "evidence"`)

	out := succeeds(t, responder, "evidence", "add", "stolen", "-n", ns, "--name", "mailbox", "--kind", "File", "--file", export,
		"--description", "Mailbox export", "--storage-location", "Evidence share")
	if want := fmt.Sprintf("evidence/mailbox recorded for incident stolen: File \"Mailbox export\", kept at Evidence share, SHA-256 %s; collected by account rita\n", digest); out != want {
		t.Errorf("evidence add printed\n%q, want\n%q", out, want)
	}

	out = succeeds(t, responder, "evidence", "transfer", "mailbox", "-n", ns, "--to", "Forensics lab", "--reason", "imaging")
	if !strings.HasPrefix(out, "evidence/mailbox: transfer 0 from rita to Forensics lab at ") || !strings.HasSuffix(out, "(imaging); recorded by account rita\n") {
		t.Errorf("first transfer printed %q", out)
	}
	out = succeeds(t, responder, "evidence", "transfer", "mailbox", "-n", ns, "--to", "Police", "--reason", "handed over", "--storage-location", "Police store")
	if !strings.HasPrefix(out, "evidence/mailbox: transfer 1 from Forensics lab to Police at ") {
		t.Errorf("second transfer printed %q", out)
	}
	if got := jsonpath(t, ns, "evidence/mailbox", ".spec.custody[*].attestedBy.username"); got != "rita rita" {
		t.Errorf("transfers attested by %q, want rita twice", got)
	}

	// Two transfers sent at once: each either lands with its own sequence
	// or is refused; none overwrites or duplicates another.
	var wg sync.WaitGroup
	results := make([]result, 2)
	for i, to := range []string{"Archive A", "Archive B"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = incident(responder, "evidence", "transfer", "mailbox", "-n", ns, "--to", to, "--reason", "storage")
		}()
	}
	wg.Wait()
	landed := 0
	for _, r := range results {
		switch {
		case r.err == nil:
			landed++
		case !strings.Contains(r.stderr, "another transfer was recorded while this one was being sent"):
			t.Errorf("a concurrent transfer failed for another reason:\n%s", r)
		}
	}
	t.Logf("%d of 2 concurrent transfers landed", landed)
	sequences := strings.Fields(jsonpath(t, ns, "evidence/mailbox", ".spec.custody[*].sequence"))
	want := []string{"0", "1", "2", "3"}[:2+landed]
	if !slices.Equal(sequences, want) {
		t.Errorf("custody sequences %v after %d concurrent transfers landed, want %v", sequences, landed, want)
	}

	out = succeeds(t, viewer, "evidence", "verify", "mailbox", "-n", ns, "--file", export)
	if want := fmt.Sprintf("evidence/mailbox: %s matches the recorded SHA-256 %s\n", export, digest); out != want {
		t.Errorf("evidence verify printed %q, want %q", out, want)
	}
	other := filepath.Join(dir, "other.pst")
	writeFile(t, other, "mailbox export of the stolen laptop's user, altered\n")
	fails(t, viewer, []string{"evidence", "verify", "mailbox", "-n", ns, "--file", other},
		"but the evidence records "+digest+": it is not the item collected, or it was altered")

	out = succeeds(t, viewer, "evidence", "list", "stolen", "-n", ns)
	rows := tableRows(t, out, "NAME")
	holder := "Police"
	if landed > 0 {
		holder = "Archive" // A or B, whichever landed last
	}
	if len(rows) != 1 || rows[0][0] != "mailbox" || rows[0][1] != "File" || rows[0][2] != holder {
		t.Errorf("evidence list:\n%s", out)
	}
	if !strings.Contains(out, digest[:12]+"…") || !strings.Contains(out, "Mailbox export") {
		t.Errorf("evidence list lacks the digest or description:\n%s", out)
	}
}
