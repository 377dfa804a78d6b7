package witness

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// maxRequestBytes bounds an add-checkpoint body: 63 proof lines and a
// checkpoint with its signatures fit many times over.
const maxRequestBytes = 64 << 10

// sizeContentType is the type of a 409 response that says the size the
// witness cosigned.
const sizeContentType = "text/x.tlog.size"

// serveAddCheckpoint answers POST /add-checkpoint: 200 with the witness's
// cosignature line, or the protocol's status for a refusal with a line
// that says why (a 409 about the old size says only the size, as the
// protocol wants).
func (w *Witness) serveAddCheckpoint(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxRequestBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(rw, fmt.Sprintf("the request is larger than %d bytes", maxRequestBytes), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(rw, "reading the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	cosignature, err := w.add(r.Context(), body)
	var stale *staleOldSize
	var refused *refusal
	switch {
	case errors.As(err, &stale):
		rw.Header().Set("Content-Type", sizeContentType)
		rw.WriteHeader(http.StatusConflict)
		fmt.Fprintf(rw, "%d\n", stale.cosigned)
	case errors.As(err, &refused):
		http.Error(rw, refused.reason, refused.status)
	case err != nil:
		w.logger.ErrorContext(r.Context(), "cannot cosign", "error", err)
		http.Error(rw, "the witness cannot record the checkpoint now; try again later", http.StatusInternalServerError)
	default:
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.Write(cosignature)
	}
}
