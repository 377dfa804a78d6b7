package witness

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// maxResponseBytes bounds what Submit reads of an answer: a few signature
// lines (an ML-DSA cosignature line is 3 KiB), or a line that says why not,
// of which an error quotes the first maxReasonBytes.
const (
	maxResponseBytes = 16 << 10
	maxReasonBytes   = 512
)

// ConflictError is the witness's answer that it cosigned the log at
// another size than the old size submitted. The caller proves consistency
// from Size and submits again; a log smaller than Size cannot be proved to
// extend it, and is not cosigned.
type ConflictError struct {
	// Size is the size of the checkpoint the witness cosigned last.
	Size int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("the witness cosigned the log at size %d: prove consistency from there", e.Size)
}

// RefusedError is the witness's refusal of a checkpoint that does not
// extend the one it cosigned: the consistency proof does not verify (422),
// or the checkpoint has the size cosigned and another root (409). Trying
// again does not help: either the proof is wrong, or the log was rewritten
// and the witness keeps the request as evidence.
type RefusedError struct {
	Status int
	// Reason is the witness's words.
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("the witness refused the checkpoint (%d %s): %s", e.Status, http.StatusText(e.Status), e.Reason)
}

// StatusError is any other answer than a cosignature: the witness does not
// know the log (404), found no valid signature by the log's key (403), could
// not read the request (400), or failed (5xx).
type StatusError struct {
	Status int
	// Reason is the witness's words.
	Reason string
}

func (e *StatusError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("the witness answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("the witness answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Reason)
}

// Submit asks the witness at witnessURL (its submission prefix) to cosign
// signedCheckpoint, with proof that it extends the log at oldSize, the size
// the witness cosigned last (0 when the caller does not know it: the
// witness answers with a *ConflictError that says it). It returns
// signedCheckpoint with the witness's cosignature lines appended; the
// caller checks them with VerifyCosigned. Refusals are a *ConflictError, a
// *RefusedError or a *StatusError.
func Submit(ctx context.Context, client *http.Client, witnessURL string, oldSize int64, proof tlog.TreeProof, signedCheckpoint []byte) ([]byte, error) {
	endpoint, err := url.JoinPath(witnessURL, "add-checkpoint")
	if err != nil {
		return nil, fmt.Errorf("witness URL %q: %w", witnessURL, err)
	}
	body := addRequest{OldSize: oldSize, Proof: proof, Checkpoint: signedCheckpoint}.marshal()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("submitting to the witness: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("reading the witness's answer: %w", err)
	}
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	reason := strings.TrimSpace(string(answer[:min(len(answer), maxReasonBytes)]))
	switch {
	case resp.StatusCode == http.StatusOK:
		if err := checkSignatureLines(answer); err != nil {
			return nil, fmt.Errorf("the witness's answer: %w", err)
		}
		return append(bytes.Clone(signedCheckpoint), answer...), nil
	case resp.StatusCode == http.StatusConflict && mediaType == sizeContentType:
		size, err := strconv.ParseInt(strings.TrimSuffix(string(answer), "\n"), 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("the witness answered 409 with %q, not a size", reason)
		}
		return nil, &ConflictError{Size: size}
	case resp.StatusCode == http.StatusConflict, resp.StatusCode == http.StatusUnprocessableEntity:
		return nil, &RefusedError{Status: resp.StatusCode, Reason: reason}
	}
	return nil, &StatusError{Status: resp.StatusCode, Reason: reason}
}

// checkSignatureLines checks that b is one or more note signature lines,
// each "— <name> <base64>" ending in a newline, as a witness answers.
func checkSignatureLines(b []byte) error {
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return fmt.Errorf("%q is not signature lines ending in a newline", truncate(b))
	}
	for line := range strings.Lines(string(b)) {
		fields := strings.Fields(strings.TrimSuffix(line, "\n"))
		if len(fields) != 3 || fields[0] != "—" || strings.TrimSuffix(line, "\n") != strings.Join(fields, " ") {
			return fmt.Errorf("%q is not a signature line", truncate([]byte(line)))
		}
	}
	return nil
}
