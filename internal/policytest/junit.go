package policytest

import (
	"encoding/xml"
	"io"
	"strings"
)

// JUnit writes the results as a JUnit XML report, the format CI systems
// show test results in: one suite a case file, one test case a case or an
// invariant.
func JUnit(w io.Writer, results []Result, verdicts []Verdict) error {
	type failure struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	}
	type testCase struct {
		Name      string   `xml:"name,attr"`
		ClassName string   `xml:"classname,attr"`
		Failure   *failure `xml:"failure,omitempty"`
		Error     *failure `xml:"error,omitempty"`
	}
	type suite struct {
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Errors   int        `xml:"errors,attr"`
		Cases    []testCase `xml:"testcase"`
	}
	type suites struct {
		XMLName xml.Name `xml:"testsuites"`
		Suites  []*suite `xml:"testsuite"`
	}
	var out suites
	byFile := map[string]*suite{}
	for _, r := range results {
		s := byFile[r.File]
		if s == nil {
			s = &suite{Name: r.File}
			byFile[r.File] = s
			out.Suites = append(out.Suites, s)
		}
		tc := testCase{Name: r.Case.Name, ClassName: r.File}
		switch {
		case r.Err != nil:
			s.Errors++
			tc.Error = &failure{Message: r.Err.Error(), Text: r.Err.Error()}
		case len(r.Differences) > 0:
			s.Failures++
			tc.Failure = &failure{Message: r.Differences[0], Text: strings.Join(r.Differences, "\n")}
		}
		s.Tests++
		s.Cases = append(s.Cases, tc)
	}
	for _, v := range verdicts {
		s := byFile[v.File]
		if s == nil {
			s = &suite{Name: v.File}
			byFile[v.File] = s
			out.Suites = append(out.Suites, s)
		}
		tc := testCase{Name: "invariant: " + v.Invariant.Name, ClassName: v.File}
		switch {
		case v.Err != nil:
			s.Errors++
			tc.Error = &failure{Message: v.Err.Error(), Text: v.Err.Error()}
		case v.Counterexample != "":
			s.Failures++
			tc.Failure = &failure{Message: "broken", Text: v.Counterexample}
		}
		s.Tests++
		s.Cases = append(s.Cases, tc)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
