package notify

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// rangeOverInt is the template that cost 11.8 s of CPU a render before
// ranges were checked.
const rangeOverInt = `{{range 300000000}}{{end}}`

// largeMessage is as large as the API lets an incident be where it matters
// here: 50 assets and a 10,000-character description, full of the
// characters chat markup escapes.
func largeMessage() Message {
	msg := sampleMessage("Resolved")
	msg.Incident.Assets = nil
	for i := range 50 {
		msg.Incident.Assets = append(msg.Incident.Assets, fmt.Sprintf("%s-%02d", strings.Repeat("a", 250), i))
	}
	msg.Incident.Description = strings.Repeat("<&>*_[", 10_000/6)
	return msg
}

func TestNewRendererRefusesTemplatesThatCannotBeBounded(t *testing.T) {
	nested := func(depth int) string {
		return strings.Repeat("{{range $.Incident.Assets}}", depth) + "x" + strings.Repeat("{{end}}", depth)
	}
	cases := map[string]struct {
		tmpl Template
		want string
	}{
		"range over an integer in the title": {
			Template{Title: rangeOverInt},
			"title template: line 1: range over 300000000: it is a number, not a list; range works only over a list, such as .Incident.Assets or (impacts .Incident.Impact)",
		},
		"range over a number field": {Template{Body: "{{range .Level}}{{end}}"}, "body template: line 1: range over .Level: it is a number, not a list"},
		"range over text":           {Template{Body: "a\n\n{{range .Incident.Title}}{{end}}"}, "body template: line 3: range over .Incident.Title: it is text, not a list"},
		"range over an element":     {Template{Body: "{{range .Incident.Assets}}{{range .}}{{end}}{{end}}"}, "range over .: it is text, not a list"},
		"range over the message":    {Template{Body: "{{range $}}{{end}}"}, "range over $: it is a record, not a list"},
		"range over a length":       {Template{Body: "{{range len .Incident.Assets}}{{end}}"}, "range over len .Incident.Assets: it is a number, not a list"},
		"range over and":            {Template{Body: "{{range and .Incident.Assets .Level}}{{end}}"}, "it cannot be shown to be a list"},
		"range over a number variable": {
			Template{Body: "{{$n := 1000000}}{{range $n}}{{end}}"}, "range over $n: it is a number, not a list",
		},
		"range over a variable later given a number": {
			// On the second pass of the outer loop $n holds a number.
			Template{Body: "{{$n := .Incident.Assets}}{{range .Incident.Assets}}{{range $n}}{{end}}{{$n = 1000000}}{{end}}"},
			"range over $n: it cannot be shown to be a list",
		},
		"range over a piped number":     {Template{Body: "{{range 5 | printf \"%d\" | len}}{{end}}"}, "it is a number, not a list"},
		"ranges nested three deep":      {Template{Body: nested(3)}, "body template: line 1: ranges are nested more than 2 deep"},
		"a template calling itself":     {Template{Body: `{{define "x"}}{{template "x" .}}{{end}}{{template "x" .}}`}, "it calls another template"},
		"a block":                       {Template{Body: `{{block "x" .}}{{end}}`}, "it calls another template"},
		"call":                          {Template{Body: `{{call .Incident.Title}}`}, "the call function is not available"},
		"a method given a variable":     {Template{Body: `{{$f := "2006"}}{{.Incident.AwareAt.Format $f}}`}, "a method takes only literal arguments"},
		"a method given a piped value":  {Template{Body: `{{"2006" | .Incident.AwareAt.Format}}`}, "a method cannot be given a piped value"},
		"a wide printf":                 {Template{Body: `{{printf "%0999999d" 1}}`}, "printf widths and precisions add up to more than 1000"},
		"a printf width from arguments": {Template{Body: `{{printf "%*d" 999999 1}}`}, "not taken from an argument"},
		"a field of text":               {Template{Body: "{{.Incident.Reporter.Name.First}}"}, "there is no field First here: text has no fields"},
		"a title source over the limit": {
			Template{Title: strings.Repeat("x", MaxTitleTemplateBytes+1)}, "title template: it is 1025 bytes long; at most 1024 are allowed",
		},
		"a body source over the limit": {
			Template{Body: strings.Repeat("x", MaxBodyTemplateBytes+1)}, "body template: it is 16385 bytes long; at most 16384 are allowed",
		},
		"too many parts": {
			Template{Body: strings.Repeat("{{.Level}}", 1000)}, "body template: it has 4001 parts",
		},
		"every problem at once": {
			Template{Body: "{{range 1}}{{end}}\n{{range 2}}{{end}}"}, "line 1: range over 1: it is a number, not a list; range works only over a list, such as .Incident.Assets or (impacts .Incident.Impact); line 2: range over 2",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := NewRenderer(tc.tmpl)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if !IsPermanent(err) {
				t.Errorf("a refused template is not a permanent error")
			}
		})
	}
}

func TestNewRendererAcceptsRangesOverLists(t *testing.T) {
	msg := sampleMessage("")
	msg.Incident.Assets = []string{"laptop-1", "phone-2"}
	cases := map[string]struct {
		body string
		want string
	}{
		"assets":                   {"{{range .Incident.Assets}}[{{.}}]{{end}}", "[laptop-1][phone-2]"},
		"index and element":        {"{{range $i, $a := .Incident.Assets}}{{$i}}={{$a}} {{end}}", "0=laptop-1 1=phone-2"},
		"impacts":                  {"{{range impacts .Incident.Impact}}<{{.}}>{{end}}", "<personal data><IT-related><240 data subjects>"},
		"inside with":              {"{{with .Incident}}{{range .Assets}}{{.}};{{end}}{{end}}", "laptop-1;phone-2;"},
		"a variable":               {"{{$a := .Incident.Assets}}{{range $a}}{{.}} {{end}}", "laptop-1 phone-2"},
		"a slice":                  {"{{range slice .Incident.Assets 1}}{{.}}{{end}}", "phone-2"},
		"a parenthesised pipeline": {"{{range (.Incident.Assets)}}{{.}}{{end}}", "laptop-1phone-2"},
		"nested two deep":          {"{{range .Incident.Assets}}{{range impacts $.Incident.Impact}}.{{end}}{{end}}", "......"},
		"else":                     {"{{range slice .Incident.Assets 2}}{{.}}{{else}}none{{end}}", "none"},
		"a method with a literal":  {`{{.Incident.AwareAt.Format "2006-01-02"}}`, "2026-03-02"},
		"a moderate printf":        {`|{{printf "%5d|%-12s|" .Level .Incident.Name}}`, "|    0|lost-laptop |"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := NewRenderer(Template{Body: tc.body})
			if err != nil {
				t.Fatal(err)
			}
			_, body, err := r.Render(msg)
			if err != nil || body != tc.want {
				t.Fatalf("body %q, error %v; want %q", body, err, tc.want)
			}
		})
	}
}

func TestRenderStopsAtItsLimits(t *testing.T) {
	large := largeMessage()
	innerWork := strings.Repeat("{{if eq $.Incident.Description $.Incident.Description}}{{end}}", 100)
	cases := map[string]struct {
		tmpl Template
		msg  Message
		want string
	}{
		"a long title": {
			Template{Title: "{{.Incident.Description}}"}, large,
			fmt.Sprintf("title template: the rendered title is longer than %d bytes", MaxTitleBytes),
		},
		"a long body": {
			Template{Body: "{{range .Incident.Assets}}{{$.Incident.Description}}{{end}}"}, large,
			fmt.Sprintf("body template: the rendered body is longer than %d bytes", MaxBodyBytes),
		},
		"nested loops doing too much": {
			// 0.86 s of CPU a render without the step budget.
			Template{Body: "{{range .Incident.Assets}}{{range $.Incident.Assets}}" + innerWork + "{{end}}{{end}}"}, large,
			"its loops take more than 50000 steps",
		},
		"text doubled in a variable": {
			Template{Body: `{{$a := printf "%01000d" 0}}` + strings.Repeat(`{{$a = printf "%s%s" $a $a}}`, 20)}, large,
			"its functions make more than 1048576 bytes of text",
		},
		"text escaped again and again": {
			Template{Body: `{{$a := .Incident.Description}}` + strings.Repeat(`{{$a = html $a}}`, 20)}, large,
			"its functions make more than 1048576 bytes of text",
		},
		"join with a long separator": {
			Template{Body: `{{$s := printf "%01000d" 0}}` + strings.Repeat(`{{$s = print $s $s}}`, 6) + `{{join .Incident.Assets $s}}`}, large,
			"its functions make more than 1048576 bytes of text",
		},
		"a wide format built at render time": {
			Template{Body: `{{$f := print "%0999999" "d"}}{{printf $f 1}}`}, large,
			"printf widths and precisions add up to more than 1000",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := NewRenderer(tc.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = r.Render(tc.msg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			var te *TemplateError
			if !errors.As(err, &te) || !IsPermanent(err) {
				t.Errorf("error %T is not a permanent TemplateError", err)
			}
		})
	}

	// Within the limits, the same message renders.
	r, err := NewRenderer(Template{Body: "{{range .Incident.Assets}}{{.}}\n{{end}}{{.Incident.Description}}"})
	if err != nil {
		t.Fatal(err)
	}
	if _, body, err := r.Render(large); err != nil || len(body) < 20_000 {
		t.Errorf("a large message within the limits: %d bytes, %v", len(body), err)
	}
}

func TestCheckReportsTemplatesThatFailWhenRun(t *testing.T) {
	cases := map[string]struct {
		tmpl Template
		want string // "" when the template passes
	}{
		"default":                      {Template{}, ""},
		"guarded acknowledgement":      {Template{Body: `{{with .Incident.Acknowledgement}}{{.By}}{{end}}`}, ""},
		"resolution on its own notice": {Template{Body: `{{if eq .Notice "Resolved"}}{{.Incident.Resolution.By}}{{end}}`}, ""},
		"every list":                   {Template{Body: `{{range .Incident.Assets}}{{.}}{{end}}{{range impacts .Incident.Impact}}{{.}}{{end}}`}, ""},
		"the SLA deadline":             {Template{Title: `due {{.Incident.SLA.ResolveBy.UTC.Format "Mon 15:04"}}`}, ""},
		"unguarded acknowledgement": {
			Template{Body: `Acknowledged by {{.Incident.Acknowledgement.By}}`},
			"nil pointer evaluating *v1alpha1.Acknowledgement.By (when rendering a new incident without description, assets, acknowledgement or resolution)",
		},
		"the first asset": {Template{Title: `{{index .Incident.Assets 0}}`}, "title template: template: title:1:2: executing \"title\" at <index .Incident.Assets 0>: error calling index: reflect: slice index out of range (when rendering a new incident"},
		"join given text": {Template{Body: `{{join .Incident.Title ", "}}`}, "wrong type for value; expected []string; got string (when rendering a first notification)"},
		"a wrong comparison": {
			Template{Body: `{{if eq .Level "high"}}!{{end}}`}, "incompatible types for comparison: int32 and string (when rendering a first notification)",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := NewRenderer(tc.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			err = r.Check()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Check: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Check gave %v, want an error containing %q", err, tc.want)
			case err != nil && !IsPermanent(err):
				t.Errorf("Check's error is not permanent")
			}
		})
	}
}

func TestFormatPadding(t *testing.T) {
	cases := map[string]struct {
		padding int
		refused bool
	}{
		"no verbs": {0, false}, "%d %s %v": {0, false}, "%%": {0, false}, "%5d|%-8s": {13, false},
		"%.2f": {2, false}, "%[2]d %[1]s": {3, false}, "%01000d": {1000, false}, "%01001d": {0, true},
		"%500d%501d": {0, true}, "%*d": {0, true}, "%.*f": {0, true}, "%099999999999999999999d": {0, true},
		"trailing %": {0, false}, "%5": {5, false},
	}
	for format, tc := range cases {
		padding, err := formatPadding(format)
		if (err != nil) != tc.refused || (!tc.refused && padding != tc.padding) {
			t.Errorf("formatPadding(%q) = %d, %v; want %d, refused %t", format, padding, err, tc.padding, tc.refused)
		}
	}
}

// FuzzRender holds NewRenderer and Render to their promise: a template is
// refused, or its render ends, within the output limits and quickly.
func FuzzRender(f *testing.F) {
	f.Add(DefaultTemplate.Title, DefaultTemplate.Body)
	f.Add(rangeOverInt, "")
	f.Add("", "{{range .Incident.Assets}}{{range $.Incident.Assets}}{{range $.Incident.Assets}}{{end}}{{end}}{{end}}")
	f.Add("", "{{range .Incident.Assets}}{{range $.Incident.Assets}}{{$.Incident.Description}}{{end}}{{end}}")
	f.Add("{{.Incident.Description}}{{.Incident.Description}}", "{{printf \"%01000d\" 1}}")
	f.Add("", `{{$a := .Incident.Description}}{{range .Incident.Assets}}{{$a = print $a $a}}{{end}}`)
	f.Add("", `{{define "x"}}{{template "x" .}}{{end}}{{template "x" .}}`)
	f.Add("{{with $x := .Incident.Assets}}{{range $i, $e := $x}}{{$i}}{{end}}{{end}}", "{{range $k, $v := .Incident.Assets}}{{else}}{{end}}")
	msg := largeMessage()
	f.Fuzz(func(t *testing.T, title, body string) {
		r, err := NewRenderer(Template{Title: title, Body: body})
		if err != nil {
			return
		}
		start := time.Now()
		gotTitle, gotBody, err := r.Render(msg)
		// The budgets hold a render to milliseconds; seconds mean one is
		// missing.
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("render took %s", took)
		}
		if err != nil {
			if !IsPermanent(err) {
				t.Fatalf("render error %v is not permanent", err)
			}
			return
		}
		if len(gotTitle) > MaxTitleBytes || len(gotBody) > MaxBodyBytes {
			t.Fatalf("rendered %d and %d bytes", len(gotTitle), len(gotBody))
		}
	})
}

func TestRangeChargesBeforeItLoops(t *testing.T) {
	cases := map[string]struct {
		list  any
		steps int // charged after the call; -1 for refused
	}{
		"a list":             {[]string{"a", "b", "c"}, 30},
		"an empty list":      {[]string{}, 0},
		"nil":                {nil, 0},
		"a pointer to list":  {&[]int{1, 2}, 20},
		"a map":              {map[string]int{"a": 1}, 10},
		"a number":           {300_000_000, -1},
		"text":               {"abc", -1},
		"a list over budget": {make([]int, maxRenderSteps/10+1), -1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			b := &budget{}
			got, err := b.iterate(10, tc.list)
			if tc.steps < 0 {
				if err == nil {
					t.Fatalf("iterate accepted %T", tc.list)
				}
				return
			}
			if err != nil || b.steps != tc.steps || !reflect.DeepEqual(got, tc.list) {
				t.Fatalf("iterate: %v, %d steps; want %d steps and the list back", err, b.steps, tc.steps)
			}
		})
	}
}
