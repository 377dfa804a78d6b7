// Package printable shows text that people wrote (titles, descriptions,
// notes, reasons, names, a receiver's error) on a terminal without letting
// it act there or disguise itself. A control character (an escape
// sequence's ESC, BEL, NUL, a C1 control, DEL, a line break), a format
// character (the bidi embeddings, overrides and isolates, zero-width
// spaces) or a line or paragraph separator is shown as a Go escape such as
// \x1b or \u202e, and a byte that is not UTF-8 as \xff. Accents, CJK,
// emoji and every other character are shown as they are. It is pure.
package printable

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text is s as one line of a table or a sentence, with every character
// that would be hidden or act on the terminal shown as an escape, a line
// break too (\n). A backslash is left as it is, so that paths and
// expressions read as typed and text escaped twice is escaped once.
func Text(s string) string {
	return render(s, func(b *strings.Builder, r rune, invalid bool) {
		switch {
		case invalid:
			fmt.Fprintf(b, `\x%02x`, r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < utf8.RuneSelf:
			fmt.Fprintf(b, `\x%02x`, r)
		case r <= 0xffff:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			fmt.Fprintf(b, `\U%08x`, r)
		}
	})
}

// Lines is s with its line breaks kept and each line as Text shows it: for
// text of several lines, such as an error or a document.
func Lines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = Text(l)
	}
	return strings.Join(lines, "\n")
}

// JSON is a JSON document with every character that Text would escape
// written as a JSON escape (\u202e, \u009b). The document means the same:
// outside a string JSON has no such characters. encoding/json escapes the
// C0 controls itself, but not DEL, the C1 controls or format characters.
func JSON(data []byte) []byte {
	return []byte(render(string(data), func(b *strings.Builder, r rune, invalid bool) {
		switch {
		case r < ' ':
			// White space between values; within a string encoding/json
			// has escaped every such control already.
			b.WriteRune(r)
		case invalid:
			// As encoding/json writes a byte that is not UTF-8.
			b.WriteString(`\ufffd`)
		case r > 0xffff:
			r1, r2 := utf16Pair(r)
			fmt.Fprintf(b, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(b, `\u%04x`, r)
		}
	}))
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}

// Fprintf is fmt.Fprintf with every argument that is text (a string or a
// type of kind string, an error, a fmt.Stringer) shown as Text shows it.
// The format is the program's own and is written as it is. Each argument
// is replaced in args, which go vet then checks against the format as it
// checks fmt.Fprintf's: pass arguments, not a slice that is used again.
func Fprintf(w io.Writer, format string, args ...any) (int, error) {
	for i, a := range args {
		args[i] = textArg(a)
	}
	return fmt.Fprintf(w, format, args...)
}

func textArg(a any) any {
	if v := reflect.ValueOf(a); v.Kind() == reflect.Pointer && v.IsNil() {
		return a
	}
	switch v := a.(type) {
	case string:
		return Text(v)
	case error:
		return Text(v.Error())
	case fmt.Stringer:
		return Text(v.String())
	}
	if v := reflect.ValueOf(a); v.Kind() == reflect.String {
		return Text(v.String())
	}
	return a
}

const (
	zwnj      = '\u200c'
	zwj       = '\u200d'
	blackFlag = '\U0001f3f4'
	cancelTag = '\U000e007f'
)

// render writes s with each hidden character replaced by what escape
// writes for it, and each byte that is not UTF-8 by what escape writes for
// that byte, marked invalid.
func render(s string, escape func(b *strings.Builder, r rune, invalid bool)) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r == utf8.RuneError || controlOrFormat(r) }) {
		return s
	}
	var b strings.Builder
	// shown is the last character written as itself, or -1 after an
	// escape: whether a joiner or a tag is part of what comes before.
	shown := rune(-1)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			escape(&b, rune(s[i]), true)
			shown = -1
		case hidden(r, shown):
			escape(&b, r, false)
			shown = -1
		default:
			b.WriteString(s[i : i+size])
			shown = r
		}
		i += size
	}
	return b.String()
}

// hidden is true for a character that acts on the terminal or is not seen:
// the controls, the format characters and the line and paragraph
// separators. Two exceptions keep text as its writers mean it: a
// zero-width joiner or non-joiner after a character that is not ASCII (it
// joins emoji into one, and letters of Arabic and Indic scripts), and the
// tag characters after a black flag (a flag of England, Scotland or
// Wales); a joiner within ASCII would only hide itself, as in "ad\u200dmin".
func hidden(r, shown rune) bool {
	switch {
	case r == zwnj || r == zwj:
		return shown < utf8.RuneSelf
	case isTag(r):
		return shown != blackFlag && (!isTag(shown) || shown == cancelTag)
	}
	return controlOrFormat(r)
}

func controlOrFormat(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}

func isTag(r rune) bool { return r >= 0xe0000 && r <= 0xe007f }
