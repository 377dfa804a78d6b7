package printable

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

func TestText(t *testing.T) {
	tests := map[string]struct {
		in, want string
	}{
		"plain ASCII":                    {"Finance laptop left on a train", "Finance laptop left on a train"},
		"a terminal hyperlink (OSC 8)":   {"\x1b]8;;http://evil\x07click\x1b]8;;\x07", `\x1b]8;;http://evil\x07click\x1b]8;;\x07`},
		"a colour (CSI)":                 {"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		"NUL and BEL":                    {"a\x00b\x07", `a\x00b\x07`},
		"backspace over text":            {"admin\b\b\b\b\buser", `admin\x08\x08\x08\x08\x08user`},
		"line breaks and a tab":          {"one\ntwo\r\nthree\tfour", `one\ntwo\r\nthree\tfour`},
		"DEL":                            {"a\x7fb", `a\x7fb`},
		"C1 controls: CSI, OSC, NEL":     {"\u009b31m \u009d0;x\u009c \u0085", `\u009b31m \u009d0;x\u009c \u0085`},
		"bidi override":                  {"\u202eevil", `\u202eevil`},
		"bidi embeddings and pop":        {"\u202aa\u202bb\u202cc\u202dd", `\u202aa\u202bb\u202cc\u202dd`},
		"bidi isolates":                  {"\u2066a\u2067b\u2068c\u2069", `\u2066a\u2067b\u2068c\u2069`},
		"bidi marks":                     {"\u200ea\u200fb\u061cc", `\u200ea\u200fb\u061cc`},
		"zero-width space and BOM":       {"ad\u200bmin\ufeff", `ad\u200bmin\ufeff`},
		"a joiner hidden in ASCII":       {"ad\u200dmin ad\u200cmin", `ad\u200dmin ad\u200cmin`},
		"line and paragraph separator":   {"a\u2028b\u2029c", `a\u2028b\u2029c`},
		"soft hyphen":                    {"pass\u00adword", `pass\u00adword`},
		"tags hiding text":               {"ok\U000e0069\U000e0067", `ok\U000e0069\U000e0067`},
		"bytes that are not UTF-8":       {"a\xffb\xc3", `a\xffb\xc3`},
		"an 8-bit CSI byte":              {"\x9b31m", `\x9b31m`},
		"accents":                        {"Müller, Zoë, São Paulo, Ångström", "Müller, Zoë, São Paulo, Ångström"},
		"CJK and Hangul":                 {"日本語の報告 한국어 中文", "日本語の報告 한국어 中文"},
		"Arabic with its joiner":         {"می\u200cخواهم", "می\u200cخواهم"},
		"Devanagari with its joiner":     {"क्\u200dष", "क्\u200dष"},
		"emoji":                          {"🔥 laptop 💻 ✅", "🔥 laptop 💻 ✅"},
		"an emoji family (ZWJ)":          {"👨\u200d👩\u200d👧", "👨\u200d👩\u200d👧"},
		"an emoji with a skin tone":      {"👍🏽 ❤️", "👍🏽 ❤️"},
		"the flag of Scotland (tags)":    {"🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"},
		"tags after the flag's end":      {"🏴\U000e0067\U000e007f\U000e0068", "🏴\U000e0067\U000e007f" + `\U000e0068`},
		"country flags":                  {"🇬🇧 🇩🇪", "🇬🇧 🇩🇪"},
		"no-break and ideographic space": {"a\u00a0b\u3000c", "a\u00a0b\u3000c"},
		"a backslash, as typed":          {`C:\evidence\x1b.img`, `C:\evidence\x1b.img`},
		"the replacement character":      {"a\ufffdb", "a\ufffdb"},
		"empty":                          {"", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Text(tc.in)
			if got != tc.want {
				t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if again := Text(got); again != got {
				t.Errorf("escaped twice: %q, once: %q", again, got)
			}
		})
	}
}

func TestLines(t *testing.T) {
	got := Lines("first \x1b[2J\nsecond\r\u202e\n")
	if want := "first \\x1b[2J\nsecond\\r\\u202e\n"; got != want {
		t.Errorf("Lines = %q, want %q", got, want)
	}
}

// JSON escapes what encoding/json leaves raw, and the document still
// decodes to the same text.
func TestJSON(t *testing.T) {
	title := "\x1b]8;;http://evil\x07click\x1b]8;;\x07 \u202eevil \u009b31m \x7f é 日本 👨\u200d👩\u200d👧 🏴\U000e0067\U000e007f ok\U000e0069"
	data, err := json.MarshalIndent(map[string]string{"title\u2066": title}, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	got := JSON(data)
	for _, raw := range []string{"\x1b", "\x07", "\u202e", "\u2066", "\u009b", "\x7f", "\U000e0069"} {
		if bytes.Contains(got, []byte(raw)) {
			t.Errorf("%q left raw in %s", raw, got)
		}
	}
	for _, kept := range []string{"{\n\t\"title", "é 日本 👨\u200d👩\u200d👧", `\u202eevil`, `\udb40\udc69`} {
		if !bytes.Contains(got, []byte(kept)) {
			t.Errorf("%q missing from %s", kept, got)
		}
	}
	var back map[string]string
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	if back["title\u2066"] != title {
		t.Errorf("decoded %q, want %q", back["title\u2066"], title)
	}
	if got := JSON([]byte("\"a\xffb\"")); string(got) != `"a\ufffdb"` {
		t.Errorf("a byte that is not UTF-8: %s", got)
	}
}

type severity string

type named struct{ name string }

func (n named) String() string { return n.name }

func TestFprintf(t *testing.T) {
	var b bytes.Buffer
	var nilTime *named
	_, err := Fprintf(&b, "%s|%s|%v|%s|%d|%v|%s\n", "\x1b[2J", severity("\u202eHigh"), errors.New("bad\x07"), named{"x\u009b"}, 3, nilTime, "\t")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "\\x1b[2J|\\u202eHigh|bad\\x07|x\\u009b|3|<nil>|\\t\n"; got != want {
		t.Errorf("Fprintf wrote %q, want %q", got, want)
	}
}
