// Package input reads what people type to kubectl incident: enum values,
// times, periods, contacts and audit key files. Each error names the flag
// and says what would be accepted.
package input

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Enum is the value of valid that s names, whatever its case. The error
// lists every valid value.
func Enum[T ~string](flag, s string, valid []T) (T, error) {
	for _, v := range valid {
		if strings.EqualFold(string(v), strings.TrimSpace(s)) {
			return v, nil
		}
	}
	names := make([]string, len(valid))
	for i, v := range valid {
		names[i] = string(v)
	}
	if strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("--%s is required: one of %s", flag, strings.Join(names, ", "))
	}
	return "", fmt.Errorf("--%s %q is not valid: use one of %s", flag, s, strings.Join(names, ", "))
}

// timeLayouts are the ways a time may be written; those without a zone
// are read in the reader's zone.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04",
	"2006-01-02",
}

// Time reads a time: "now", RFC 3339 ("2026-11-20T09:30:00Z"), or a date
// and time without a zone ("2026-11-20 09:30"), which is read in loc.
func Time(flag, s string, loc *time.Location, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "now") {
		return now, nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--%s %q is not a time: write it as 2026-11-20T09:30:00Z, as 2026-11-20 09:30 (in %s), or now", flag, s, loc)
}

var ageForm = regexp.MustCompile(`^([0-9]+)([dw])$`)

// Age reads a span back from now: Go's durations (90m, 12h) and whole
// days or weeks (7d, 2w).
func Age(flag, s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if m := ageForm.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err == nil && n > 0 {
			unit := 24 * time.Hour
			if m[2] == "w" {
				unit *= 7
			}
			return time.Duration(n) * unit, nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, fmt.Errorf("--%s %q is not a span of time: write it as 7d, 2w, 12h or 90m", flag, s)
}

var (
	yearForm    = regexp.MustCompile(`^([0-9]{4})$`)
	monthForm   = regexp.MustCompile(`^([0-9]{4})-([0-9]{2})$`)
	quarterForm = regexp.MustCompile(`^([0-9]{4})-[Qq]([1-4])$`)
	weekForm    = regexp.MustCompile(`^([0-9]{4})-[Ww]([0-9]{2})$`)
)

// Period reads a reporting period in loc and returns its first instant
// and the first instant after it: a year (2026), a month (2026-10), a
// quarter (2026-Q4), an ISO week (2026-W43, Monday to Monday, as a weekly
// review runs) or a day (2026-10-05).
func Period(flag, s string, loc *time.Location) (from, to time.Time, err error) {
	s = strings.TrimSpace(s)
	atoi := func(x string) int { n, _ := strconv.Atoi(x); return n }
	switch {
	case yearForm.MatchString(s):
		from = time.Date(atoi(s), 1, 1, 0, 0, 0, 0, loc)
		return from, from.AddDate(1, 0, 0), nil
	case monthForm.MatchString(s):
		m := monthForm.FindStringSubmatch(s)
		if month := atoi(m[2]); month >= 1 && month <= 12 {
			from = time.Date(atoi(m[1]), time.Month(month), 1, 0, 0, 0, 0, loc)
			return from, from.AddDate(0, 1, 0), nil
		}
	case quarterForm.MatchString(s):
		m := quarterForm.FindStringSubmatch(s)
		from = time.Date(atoi(m[1]), time.Month(3*(atoi(m[2])-1)+1), 1, 0, 0, 0, 0, loc)
		return from, from.AddDate(0, 3, 0), nil
	case weekForm.MatchString(s):
		m := weekForm.FindStringSubmatch(s)
		year, week := atoi(m[1]), atoi(m[2])
		// ISO week 1 holds 4 January; weeks start on Monday.
		jan4 := time.Date(year, 1, 4, 0, 0, 0, 0, loc)
		monday := jan4.AddDate(0, 0, -((int(jan4.Weekday()) + 6) % 7))
		from = monday.AddDate(0, 0, 7*(week-1))
		if y, w := from.ISOWeek(); week >= 1 && y == year && w == week {
			return from, from.AddDate(0, 0, 7), nil
		}
	default:
		if day, perr := time.ParseInLocation("2006-01-02", s, loc); perr == nil {
			return day, day.AddDate(0, 0, 1), nil
		}
	}
	return time.Time{}, time.Time{}, fmt.Errorf("--%s %q is not a period: write a year (2026), a month (2026-10), a quarter (2026-Q4), an ISO week (2026-W43) or a day (2026-10-05)", flag, s)
}

// Contact reads NAME or NAME:EMAIL, as in --line-manager "Tom Okafor:tom@example.org".
func Contact(flag, s string) (securityv1alpha1.Contact, error) {
	s = strings.TrimSpace(s)
	name, email := s, ""
	if i := strings.LastIndex(s, ":"); i >= 0 && strings.Contains(s[i+1:], "@") {
		name, email = strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
	}
	if name == "" {
		return securityv1alpha1.Contact{}, fmt.Errorf("--%s %q has no name: write NAME or NAME:EMAIL", flag, s)
	}
	if email != "" && !strings.Contains(email[strings.Index(email, "@")+1:], ".") {
		return securityv1alpha1.Contact{}, fmt.Errorf("--%s: %q is not an e-mail address such as name@example.org", flag, email)
	}
	return securityv1alpha1.Contact{Name: name, Email: email}, nil
}

// maxGeneratedPrefix keeps a generated name (prefix and the API server's
// five random characters) short enough to type.
const maxGeneratedPrefix = 40

// NamePrefix makes a generateName prefix from a title: lower-case words
// joined by hyphens, ending in a hyphen, such as "finance-laptop-left-on-".
func NamePrefix(title string) string {
	var b strings.Builder
	hyphen := false
	for _, r := range strings.ToLower(title) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			if hyphen && b.Len() > 0 {
				b.WriteByte('-')
			}
			hyphen = false
			b.WriteRune(r)
		default:
			hyphen = true
		}
		if b.Len() >= maxGeneratedPrefix {
			break
		}
	}
	prefix := strings.Trim(b.String(), "-")
	if prefix == "" {
		prefix = "incident"
	}
	return prefix + "-"
}
