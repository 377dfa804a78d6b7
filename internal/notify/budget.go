package notify

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"text/template"
)

// Budgets of one render of one part. A step is one node of a template, or
// 64 bytes of its literal text.
const (
	maxRenderSteps = 50_000
	// maxMadeBytes bounds the text functions such as printf and join make,
	// which can be kept in variables and never written.
	maxMadeBytes = 1 << 20
)

var (
	errTooManySteps = fmt.Errorf("its loops take more than %d steps; loop over fewer things or do less in each loop", maxRenderSteps)
	errTooMuchText  = fmt.Errorf("its functions make more than %d bytes of text", maxMadeBytes)
)

// budget is what one render may still spend.
type budget struct {
	steps int
	made  int
}

// rangeFunc is the function every range calls with the list before it loops
// (see meterRange). "range" is a keyword, so no template can call it by name.
const rangeFunc = "range"

// funcs are the functions templates may call. The builtins that make text
// are replaced by versions that charge the budget; the others (eq, len,
// index, slice, ...) cost a step each and make nothing new.
func (b *budget) funcs() template.FuncMap {
	return template.FuncMap{
		rangeFunc: b.iterate,
		"impacts": impactNames,
		"join": func(elems []string, sep string) (string, error) {
			n := len(sep) * len(elems)
			for _, e := range elems {
				n += len(e)
			}
			return b.make(n, func() string { return strings.Join(elems, sep) })
		},
		"print": func(args ...any) (string, error) {
			return b.make(stringBytes(args), func() string { return fmt.Sprint(args...) })
		},
		"println": func(args ...any) (string, error) {
			return b.make(stringBytes(args)+len(args), func() string { return fmt.Sprintln(args...) })
		},
		"printf": func(format string, args ...any) (string, error) {
			padding, err := formatPadding(format)
			if err != nil {
				return "", err
			}
			// %q and %x write up to four bytes for each byte of a string.
			return b.make(len(format)+padding+4*stringBytes(args), func() string { return fmt.Sprintf(format, args...) })
		},
		// The escapers write at most six bytes for each byte they are given.
		"html": func(args ...any) (string, error) {
			return b.make(6*stringBytes(args), func() string { return template.HTMLEscaper(args...) })
		},
		"js": func(args ...any) (string, error) {
			return b.make(6*stringBytes(args), func() string { return template.JSEscaper(args...) })
		},
		"urlquery": func(args ...any) (string, error) {
			return b.make(6*stringBytes(args), func() string { return template.URLQueryEscaper(args...) })
		},
	}
}

// parseFuncs name the functions for the parser; rendering binds fresh ones.
var parseFuncs = (&budget{}).funcs()

// make runs f unless the estimate of what it makes would exhaust the
// budget, and charges what it made.
func (b *budget) make(estimate int, f func() string) (string, error) {
	if b.made+estimate > maxMadeBytes {
		return "", errTooMuchText
	}
	s := f()
	if b.made += len(s); b.made > maxMadeBytes {
		return "", errTooMuchText
	}
	return s, nil
}

// iterate charges a range for its iterations before it starts: bodySteps
// for each element of list. It passes list on unchanged.
func (b *budget) iterate(bodySteps int, list any) (any, error) {
	v := reflect.ValueOf(list)
	for v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Invalid:
		return list, nil // nil: an empty list
	case reflect.Slice, reflect.Array, reflect.Map:
	default:
		// The static check should have refused this; refuse it here too.
		return nil, fmt.Errorf("range over a value that is not a list: %s", notAList(v.Type()))
	}
	if b.steps += v.Len() * bodySteps; b.steps > maxRenderSteps {
		return nil, errTooManySteps
	}
	return list, nil
}

// stringBytes is the length of the strings among args; other arguments come
// from the message, whose size the API bounds.
func stringBytes(args []any) int {
	n := 0
	for _, a := range args {
		if s, ok := a.(string); ok {
			n += len(s)
		}
	}
	return n
}

// maxFormatPadding bounds the widths and precisions of one printf format:
// fmt pads to them before any limit can see the result.
const maxFormatPadding = 1000

// formatPadding adds up the numbers in the verbs of a printf format (widths,
// precisions, argument indexes) and refuses a total over maxFormatPadding,
// or a width or precision taken from an argument (*).
func formatPadding(format string) (int, error) {
	total := 0
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		n := 0
		for i++; i < len(format); i++ {
			c := format[i]
			if c >= '0' && c <= '9' {
				n = min(n*10+int(c-'0'), maxFormatPadding+1)
				continue
			}
			total, n = total+n, 0
			if c == '*' {
				return 0, errors.New("printf widths and precisions must be written in the format, not taken from an argument (*)")
			}
			if !strings.ContainsRune("+-# .[]", rune(c)) {
				break // the verb
			}
		}
		if total += n; total > maxFormatPadding {
			return 0, fmt.Errorf("printf widths and precisions add up to more than %d", maxFormatPadding)
		}
	}
	return total, nil
}
