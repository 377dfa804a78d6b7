package record

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"strings"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Filings returns the entries for the steps of the incident's Filings the
// trail has not recorded yet, each with the account that made it, and what
// the trail records after them. Every step is made once and the lists only
// grow (the admission policies and the CRD's rules see to it), so what is
// recorded is a count of each.
func Filings(recorded []securityv1alpha1.FilingRecord, filings []*securityv1alpha1.Filing) ([]Entry, []securityv1alpha1.FilingRecord) {
	known := make(map[string]securityv1alpha1.FilingRecord, len(recorded))
	for _, r := range recorded {
		known[r.Name] = r
	}
	sorted := slices.Clone(filings)
	slices.SortFunc(sorted, func(a, b *securityv1alpha1.Filing) int {
		return cmp.Or(a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time), strings.Compare(a.Name, b.Name))
	})
	var entries []Entry
	next := slices.Clone(recorded)
	for _, f := range sorted {
		r, seen := known[f.Name]
		if !seen || r.UID != string(f.UID) {
			r = securityv1alpha1.FilingRecord{Name: f.Name, UID: string(f.UID)}
			entries = append(entries, Entry{Actor: Operator, Action: securityv1alpha1.AuditObligationOpened, Details: filingDetails(f, map[string]string{
				"recipient": string(f.Spec.Recipient), "agreementsRequired": strconv.Itoa(int(f.Spec.AgreementsRequired)),
			})})
		}
		entries = append(entries, filingSteps(&r, f)...)
		next = upsertFiling(next, r)
	}
	return entries, next
}

// filingSteps are the entries for the steps of f after those r records,
// in the order they can be made, and moves r past them.
func filingSteps(r *securityv1alpha1.FilingRecord, f *securityv1alpha1.Filing) []Entry {
	spec := &f.Spec
	var entries []Entry
	add := func(by *securityv1alpha1.Attestation, action securityv1alpha1.AuditAction, details map[string]string) {
		entries = append(entries, Entry{Actor: Person(by), Action: action, Details: filingDetails(f, details)})
	}
	if d := spec.Decision; d != nil && !r.Decided {
		details := map[string]string{"outcome": string(d.Outcome)}
		setIf(details, "rationale", d.Rationale)
		setIf(details, "exemption", string(d.Exemption))
		add(d.DecidedBy, securityv1alpha1.AuditFilingDecided, details)
		r.Decided = true
	}
	if d := spec.Draft; d != nil && !r.Drafted {
		details := map[string]string{"fields": strings.Join(slices.Sorted(maps.Keys(d.Content)), ", ")}
		for field, text := range d.Content {
			details["content."+field] = string(text)
		}
		add(d.DraftedBy, securityv1alpha1.AuditFilingDrafted, details)
		r.Drafted = true
	}
	agreements := slices.Clone(spec.Agreements)
	slices.SortFunc(agreements, func(a, b securityv1alpha1.FilingAgreement) int { return int(a.Sequence - b.Sequence) })
	for _, a := range agreements {
		if a.Sequence < r.Agreements {
			continue
		}
		details := map[string]string{"agreement": strconv.Itoa(int(a.Sequence)), "of": strconv.Itoa(int(spec.AgreementsRequired))}
		setIf(details, "note", a.Note)
		if author := f.Author(); author != nil {
			details["author"] = author.Username
		}
		add(a.By, securityv1alpha1.AuditFilingAgreed, details)
		r.Agreements = a.Sequence + 1
	}
	if s := spec.Filed; s != nil && !r.Filed {
		details := map[string]string{"at": stamp(s.At.Time)}
		setIf(details, "reference", s.Reference)
		setIf(details, "delayReason", s.DelayReason)
		add(s.By, securityv1alpha1.AuditFiled, details)
		r.Filed = true
	}
	if a := spec.Acknowledgement; a != nil && !r.Acknowledged {
		details := map[string]string{"at": stamp(a.At.Time)}
		setIf(details, "caseNumber", a.CaseNumber)
		add(a.By, securityv1alpha1.AuditFilingAcknowledged, details)
		r.Acknowledged = true
	}
	letters := slices.Clone(spec.Correspondence)
	slices.SortFunc(letters, func(a, b securityv1alpha1.Correspondence) int { return int(a.Sequence - b.Sequence) })
	for _, c := range letters {
		if c.Sequence < r.Correspondence {
			continue
		}
		details := map[string]string{"letter": strconv.Itoa(int(c.Sequence)), "at": stamp(c.At.Time), "direction": string(c.Direction), "summary": c.Summary}
		setIf(details, "attachmentSHA256", c.AttachmentSHA256)
		add(c.By, securityv1alpha1.AuditCorrespondenceRecorded, details)
		r.Correspondence = c.Sequence + 1
	}
	return entries
}

func filingDetails(f *securityv1alpha1.Filing, details map[string]string) map[string]string {
	details["filing"] = f.Name
	details["regime"] = f.Spec.Regime
	details["stage"] = f.Spec.Stage
	details["citation"] = f.Spec.Citation
	return details
}

func upsertFiling(records []securityv1alpha1.FilingRecord, r securityv1alpha1.FilingRecord) []securityv1alpha1.FilingRecord {
	for i := range records {
		if records[i].Name == r.Name {
			records[i] = r
			return records
		}
	}
	return append(records, r)
}
