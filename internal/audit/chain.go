package audit

import (
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// Limits that Append keeps, so that every entry it makes is one the API
// server accepts: an entry it refused would stop the trail.
const (
	// MaxDetails is the CRD's maxProperties for AuditEntry.Details.
	MaxDetails = 16
	// MaxDetailLength is the longest detail value, in bytes. The CRD sets
	// no limit; 256 keeps the detail values of a full segment (256 entries
	// of 16 details) at 1 MiB, below etcd's 1.5 MiB for one object.
	MaxDetailLength = 256
	// maxActorString and maxGroups are the CRD's limits on AuditActor.
	maxActorString = 512
	maxGroups      = 64
)

// OmittedDetail is the detail that names, comma-separated, the details cut
// from an entry that had more than MaxDetails: the first MaxDetails-1 keys
// in byte order are kept, and this key itself never is.
const OmittedDetail = "omitted"

// cutMark ends a value that was cut.
const cutMark = "…"

// Chain appends entries to one subject's trail.
type Chain struct {
	trail
	head *securityv1alpha1.AuditHead
	enc  encoder
}

// NewChain continues the trail of subject in namespace after head, which is
// nil for a trail without entries. The head should be one Verify or
// CheckHead accepted: Chain trusts it.
func NewChain(namespace string, subject securityv1alpha1.AuditSubject, head *securityv1alpha1.AuditHead) *Chain {
	c := &Chain{trail: trail{namespace: namespace, subject: subject}}
	if head != nil {
		h := *head
		c.head = &h
	}
	return c
}

// Head is the head the last entry made, nil when there is none; the
// incident keeps it in status.audit.head.
func (c *Chain) Head() *securityv1alpha1.AuditHead {
	if c.head == nil {
		return nil
	}
	h := *c.head
	return &h
}

// Append makes the next entry, signed with key, and advances the head.
//
// The entry holds what the API server will store, so that its hash still
// matches when it is read back: the time in UTC whole microseconds, strings
// as valid UTF-8 (each invalid byte becomes U+FFFD, as JSON encoding does),
// and the CRD's limits kept: details beyond MaxDetails are dropped and named
// under OmittedDetail, a detail value longer than MaxDetailLength bytes and
// a username or group longer than 512 bytes are cut at a character boundary
// and end with "…", groups beyond 64 are dropped.
func (c *Chain) Append(key Key, at time.Time, actor securityv1alpha1.AuditActor, action securityv1alpha1.AuditAction, details map[string]string) securityv1alpha1.AuditEntry {
	entry := securityv1alpha1.AuditEntry{
		Time:    metav1.NewMicroTime(at.UTC().Truncate(time.Microsecond)),
		Actor:   storedActor(actor),
		Action:  securityv1alpha1.AuditAction(validUTF8(string(action))),
		Details: storedDetails(details),
		KeyID:   key.ID,
	}
	if c.head != nil {
		entry.Sequence = c.head.Sequence + 1
		entry.PreviousHash = c.head.Hash
	} else {
		entry.PreviousHash = c.genesis()
	}
	c.entryEncoding(&c.enc, &entry)
	entry.Hash = c.enc.hash()
	signature := c.sign(&c.enc, key, entry.Sequence, entry.Hash)
	entry.Signature = string(signature[:])
	c.head = headOf(&entry)
	return entry
}

// Bounded is an entry's actor, action and details as a record stores them:
// valid UTF-8, within the limits Append keeps.
func Bounded(actor securityv1alpha1.AuditActor, action securityv1alpha1.AuditAction, details map[string]string) (securityv1alpha1.AuditActor, securityv1alpha1.AuditAction, map[string]string) {
	return storedActor(actor), securityv1alpha1.AuditAction(validUTF8(string(action))), storedDetails(details)
}

func storedActor(actor securityv1alpha1.AuditActor) securityv1alpha1.AuditActor {
	stored := securityv1alpha1.AuditActor{Operator: actor.Operator, Username: cut(actor.Username, maxActorString)}
	if len(actor.Groups) > 0 {
		groups := actor.Groups[:min(len(actor.Groups), maxGroups)]
		stored.Groups = make([]string, len(groups))
		for i, g := range groups {
			stored.Groups[i] = cut(g, maxActorString)
		}
	}
	return stored
}

func storedDetails(details map[string]string) map[string]string {
	if len(details) == 0 {
		return nil
	}
	stored := make(map[string]string, min(len(details), MaxDetails))
	var omitted []string
	for _, k := range slices.Sorted(maps.Keys(details)) {
		if len(details) > MaxDetails && (len(stored) == MaxDetails-1 || k == OmittedDetail) {
			omitted = append(omitted, k)
			continue
		}
		stored[validUTF8(k)] = cut(details[k], MaxDetailLength)
	}
	if omitted != nil {
		stored[OmittedDetail] = cut(strings.Join(omitted, ","), MaxDetailLength)
	}
	return stored
}

// cut makes s valid UTF-8 of at most limit bytes, ending in cutMark when it
// had to be shortened.
func cut(s string, limit int) string {
	s = validUTF8(s)
	if len(s) <= limit {
		return s
	}
	end := limit - len(cutMark)
	for end > 0 && !utf8.RuneStart(s[end]) {
		end--
	}
	return s[:end] + cutMark
}

// validUTF8 replaces each byte that is not part of valid UTF-8 with U+FFFD,
// byte by byte as encoding/json does, so that what is hashed is what is
// stored.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}
