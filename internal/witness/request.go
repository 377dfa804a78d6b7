package witness

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/mod/sumdb/tlog"
)

// maxProofLines is the most consistency-proof lines a request may hold
// (c2sp.org/tlog-witness): a proof between two trees of fewer than 2^63
// leaves needs no more.
const maxProofLines = 63

// addRequest is the body of an add-checkpoint request:
//
//	old <size>
//	<consistency proof hash in base64>   (zero or more)
//	<empty line>
//	<signed checkpoint note>
type addRequest struct {
	// OldSize is the size of the checkpoint the witness last cosigned, as
	// the submitter believes it to be; Proof proves that Checkpoint extends
	// the log at that size.
	OldSize    int64
	Proof      tlog.TreeProof
	Checkpoint []byte
}

func (r addRequest) marshal() []byte {
	b := fmt.Appendf(nil, "old %d\n", r.OldSize)
	for _, h := range r.Proof {
		b = base64.StdEncoding.AppendEncode(b, h[:])
		b = append(b, '\n')
	}
	b = append(b, '\n')
	return append(b, r.Checkpoint...)
}

// parseAddRequest reads an add-checkpoint body as the protocol writes it,
// and nothing else: a size with a leading zero or a sign, a hash that is not
// 32 bytes of padded base64, a line without its newline and a missing empty
// line are all refused.
func parseAddRequest(body []byte) (addRequest, error) {
	var r addRequest
	line, rest, ok := bytes.Cut(body, []byte{'\n'})
	if !ok {
		return r, errors.New("the request has no old size line")
	}
	digits, ok := bytes.CutPrefix(line, []byte("old "))
	if !ok {
		return r, fmt.Errorf("the first line is %q, want old <size>", truncate(line))
	}
	size, err := strconv.ParseInt(string(digits), 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != string(digits) {
		return r, fmt.Errorf("the old size %q is not a decimal size without leading zeroes", truncate(digits))
	}
	r.OldSize = size
	for {
		line, rest, ok = bytes.Cut(rest, []byte{'\n'})
		if !ok {
			return r, errors.New("the request has no empty line before the checkpoint")
		}
		if len(line) == 0 {
			break
		}
		if len(r.Proof) == maxProofLines {
			return r, fmt.Errorf("the request has more than %d consistency proof lines", maxProofLines)
		}
		h, err := base64.StdEncoding.DecodeString(string(line))
		if err != nil || len(h) != len(tlog.Hash{}) {
			return r, fmt.Errorf("consistency proof line %d is not a 32-byte hash in base64", len(r.Proof)+1)
		}
		r.Proof = append(r.Proof, tlog.Hash(h))
	}
	if r.OldSize == 0 && len(r.Proof) > 0 {
		return r, errors.New("the old size is 0, so the consistency proof must be empty")
	}
	if len(rest) == 0 {
		return r, errors.New("the request has no checkpoint")
	}
	r.Checkpoint = rest
	return r, nil
}

// truncate shortens what a message quotes of a request.
func truncate(b []byte) []byte {
	const most = 40
	if len(b) > most {
		return b[:most]
	}
	return b
}
