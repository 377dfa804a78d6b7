package notify_test

import (
	"bytes"
	"fmt"
	"mime"
	"net/mail"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/incidentops/incident-operator/internal/notify"
)

// maxLine is RFC 5322's hard limit (section 2.1.1): a line MUST be at most
// 998 octets without its CRLF. The 78 it recommends is not tested, because
// go-message does not promise it: it folds at 76 where the first 76
// characters of a line hold a space, and otherwise at the last space before
// 998. A Q-encoded Subject has no space in its first 76 characters (one
// encoded word after "Subject: " takes up to 84), so its first line can come
// close to 998.
const maxLine = 998

// namedRecipients returns n addresses as a person would write them in an
// EscalationPolicy, and the addresses a reader should find. The names cover
// the two RFC 2047 encodings net/mail chooses (Q, and B for a name with
// specials), a plain ASCII name and a bare address.
func namedRecipients(n int) ([]string, []*mail.Address) {
	var given []string
	var want []*mail.Address
	for i := range n {
		var in string
		var a mail.Address
		switch i % 4 {
		case 0:
			a = mail.Address{Name: "Zoë Ångström", Address: fmt.Sprintf("zoe.%02d@council.example", i)}
			in = a.Name + " <" + a.Address + ">"
		case 1:
			a = mail.Address{Name: "Ångström, Zoë (DPO)", Address: fmt.Sprintf("dpo.%02d@council.example", i)}
			in = `"` + a.Name + `" <` + a.Address + ">"
		case 2:
			a = mail.Address{Name: "Ann Smith", Address: fmt.Sprintf("ann.%02d@council.example", i)}
			in = a.Name + " <" + a.Address + ">"
		default:
			a = mail.Address{Address: fmt.Sprintf("audit.%02d@council.example", i)}
			in = a.Address
		}
		given = append(given, in)
		want = append(want, &a)
	}
	return given, want
}

// firstRunes is the first n characters of s, which must have that many.
func firstRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	panic("string too short")
}

func TestComposeMailReadsBackAndKeepsLinesShort(t *testing.T) {
	fifty, fiftyWant := namedRecipients(50)
	zoe := &mail.Address{Name: "Zoë Ångström", Address: "zoe@council.example"}
	longSubject := firstRunes(strings.Repeat("Zoë Ångström — données égarées à Besançon; ", 20), 500)
	// Folding happens only at white space: the URL must arrive whole, with
	// no space put into it.
	longToken := "Runbook https://runbooks.council.example/" + strings.Repeat("lost-laptop/", 15) + " before noon"

	tests := map[string]struct {
		from    string
		to, cc  []string
		subject string

		wantFrom *mail.Address
		wantTo   []*mail.Address
		wantCc   []*mail.Address
		// longField, once unfolded, is longer than a line may be, so the
		// test only passes if the writer folded it.
		longField string
	}{
		"fifty recipients with non-ASCII names": {
			from: "Zoë Ångström <zoe@council.example>", to: fifty, cc: []string{"Zoë Ångström <zoe@council.example>"},
			subject:  "Données personnelles perdues — Zoë Ångström",
			wantFrom: zoe, wantTo: fiftyWant, wantCc: []*mail.Address{zoe},
			longField: "To",
		},
		"500-character non-ASCII subject": {
			from: "incidents@council.example", to: []string{"Zoë Ångström <zoe@council.example>"},
			subject:  longSubject,
			wantFrom: &mail.Address{Address: "incidents@council.example"}, wantTo: []*mail.Address{zoe},
			longField: "Subject",
		},
		"subject with a word too long to fold at 78": {
			from: "incidents@council.example", to: []string{"audit@council.example"},
			subject:  longToken,
			wantFrom: &mail.Address{Address: "incidents@council.example"}, wantTo: []*mail.Address{{Address: "audit@council.example"}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m := mailMessage()
			m.To, m.Cc, m.Subject = tc.to, tc.cc, tc.subject
			raw, err := notify.ComposeMail(tc.from, m)
			if err != nil {
				t.Fatalf("ComposeMail: %v", err)
			}

			head, _, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
			if !ok {
				t.Fatal("no blank line ends the header")
			}
			for i, b := range head {
				if b >= utf8.RuneSelf {
					t.Errorf("the header is not 7-bit at octet %d; RFC 2047 words were not used: %q…", i, head[max(0, i-40):i+1])
					break
				}
			}
			for i, line := range bytes.Split(raw, []byte("\r\n")) {
				if len(line) > maxLine {
					t.Errorf("line %d is %d octets, more than %d: %.60q…", i+1, len(line), maxLine, line)
				}
				if bytes.ContainsAny(line, "\r\n") {
					t.Errorf("line %d has a bare CR or LF: %q", i+1, line)
				}
			}

			msg, err := mail.ReadMessage(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("net/mail cannot read the message: %v", err)
			}
			if tc.longField != "" && len(msg.Header.Get(tc.longField)) <= maxLine {
				t.Fatalf("%s is only %d octets unfolded; the case does not need folding", tc.longField, len(msg.Header.Get(tc.longField)))
			}
			for header, want := range map[string][]*mail.Address{"From": {tc.wantFrom}, "To": tc.wantTo, "Cc": tc.wantCc} {
				got, err := msg.Header.AddressList(header)
				if len(want) == 0 && err == mail.ErrHeaderNotPresent {
					continue
				}
				if err != nil {
					t.Errorf("%s: %v", header, err)
				} else if !reflect.DeepEqual(got, want) {
					t.Errorf("%s read back as %v, want %v", header, got, want)
				}
			}
			subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			if err != nil || subject != tc.subject {
				t.Errorf("Subject read back as %q (%v), want %q", subject, err, tc.subject)
			}
			if date, err := msg.Header.Date(); err != nil || !date.Equal(m.Date) {
				t.Errorf("Date read back as %v (%v), want %v", date, err, m.Date)
			}
		})
	}
}
