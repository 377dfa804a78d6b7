package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	securityv1alpha1 "github.com/incidentops/incident-operator/api/v1alpha1"
)

// maxObjectName is the longest DNS subdomain, which object names are.
const maxObjectName = 253

// Segment is the number of the AuditTrail object that holds sequence.
func Segment(sequence int64) int64 {
	return sequence / securityv1alpha1.AuditTrailSegmentSize
}

// TrailName names a segment of a subject's trail: the subject's name, which
// is a DNS subdomain, with ".audit-<segment>". A name too long for that is
// cut and marked with 8 hex digits of the SHA-256 of the whole name, so that
// two long names that begin alike still name different trails.
func TrailName(subjectName string, segment int64) string {
	suffix := ".audit-" + strconv.FormatInt(segment, 10)
	if len(subjectName)+len(suffix) <= maxObjectName {
		return subjectName + suffix
	}
	sum := sha256.Sum256([]byte(subjectName))
	mark := "-" + hex.EncodeToString(sum[:4])
	// Each label of a subdomain must end with a letter or digit.
	prefix := strings.TrimRight(subjectName[:maxObjectName-len(suffix)-len(mark)], ".-")
	return prefix + mark + suffix
}

// ObjectName names the AuditTrail object holding a segment of subject's
// trail. The first characters of the subject's UID keep the trail apart
// from that of an earlier subject of the same name, whose trail outlived it.
func ObjectName(subject securityv1alpha1.AuditSubject, segment int64) string {
	uid := subject.UID
	if len(uid) > 8 {
		uid = uid[:8]
	}
	return TrailName(subject.Name+"-"+uid, segment)
}
