package witness

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// The example request of c2sp.org/tlog-witness.
const specRequest = `old 20852014
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=
`

func TestParseAddRequestReadsTheSpecExample(t *testing.T) {
	r, err := parseAddRequest([]byte(specRequest))
	if err != nil {
		t.Fatal(err)
	}
	if r.OldSize != 20852014 || len(r.Proof) != 4 || !strings.HasPrefix(string(r.Checkpoint), "example.com/behind-the-sofa\n20852163\n") {
		t.Errorf("parsed %+v", r)
	}
	if got := base64.StdEncoding.EncodeToString(r.Proof[3][:]); got != "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=" {
		t.Errorf("the last proof hash is %s", got)
	}
	if got := r.marshal(); string(got) != specRequest {
		t.Errorf("marshal does not give the request back:\n%s", got)
	}
}

func TestParseAddRequestRefusesMalformed(t *testing.T) {
	const checkpoint = "example.com/log\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n— example.com/log AAAA\n"
	hash := "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
	tests := map[string]struct {
		body string
		want string
	}{
		"empty":                     {"", "no old size line"},
		"no newline after the size": {"old 5", "no old size line"},
		"another first line":        {"new 5\n\n" + checkpoint, "want old <size>"},
		"a leading zero":            {"old 05\n" + hash + "\n" + checkpoint, "without leading zeroes"},
		"a sign":                    {"old +5\n" + hash + "\n" + checkpoint, "without leading zeroes"},
		"negative":                  {"old -5\n\n" + checkpoint, "without leading zeroes"},
		"larger than an int64":      {"old 9223372036854775808\n\n" + checkpoint, "without leading zeroes"},
		"two spaces":                {"old  5\n\n" + checkpoint, "without leading zeroes"},
		"a hash not in base64":      {"old 5\n!!!!\n\n" + checkpoint, "line 1 is not a 32-byte hash"},
		"a hash of 31 bytes":        {"old 5\n" + base64.StdEncoding.EncodeToString(make([]byte, 31)) + "\n\n" + checkpoint, "line 1 is not a 32-byte hash"},
		"a hash of 33 bytes":        {"old 5\n" + hash + base64.StdEncoding.EncodeToString(make([]byte, 33)) + "\n\n" + checkpoint, "line 2 is not a 32-byte hash"},
		"64 proof lines":            {"old 5\n" + strings.Repeat(hash, 64) + "\n" + checkpoint, "more than 63"},
		"no empty line":             {"old 5\n" + hash, "no empty line"},
		"a proof from size 0":       {"old 0\n" + hash + "\n" + checkpoint, "must be empty"},
		"no checkpoint":             {"old 0\n\n", "no checkpoint"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := parseAddRequest([]byte(tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestAddRequestRoundTrips(t *testing.T) {
	tests := map[string]addRequest{
		"first":          {OldSize: 0, Checkpoint: []byte("a\n1\nroot\n\n— a sig\n")},
		"with a proof":   {OldSize: 7, Proof: tlog.TreeProof{{1}, {2}, {3}}, Checkpoint: []byte("a\n9\nroot\n\n— a sig\n")},
		"63 proof lines": {OldSize: 1 << 62, Proof: make(tlog.TreeProof, 63), Checkpoint: []byte("x\n")},
	}
	for name, r := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseAddRequest(r.marshal())
			if err != nil {
				t.Fatal(err)
			}
			if got.OldSize != r.OldSize || !slices.Equal(got.Proof, r.Proof) || !bytes.Equal(got.Checkpoint, r.Checkpoint) {
				t.Errorf("got %+v, want %+v", got, r)
			}
		})
	}
}

func TestHandlerAnswersWhatIsNotAnAddCheckpoint(t *testing.T) {
	_, _, w := witnessedLog(t)
	client := w.server.Client()
	tests := map[string]struct {
		method, path string
		body         string
		status       int
	}{
		"malformed":       {http.MethodPost, "/add-checkpoint", "old 05\n\n", http.StatusBadRequest},
		"too large":       {http.MethodPost, "/add-checkpoint", "old 0\n\n" + strings.Repeat("x", maxRequestBytes), http.StatusRequestEntityTooLarge},
		"a GET":           {http.MethodGet, "/add-checkpoint", "", http.StatusMethodNotAllowed},
		"another path":    {http.MethodPost, "/add-checkpoints", "old 0\n\n", http.StatusNotFound},
		"the root, a GET": {http.MethodGet, "/", "", http.StatusNotFound},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, w.server.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("got %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}
