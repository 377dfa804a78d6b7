package translog

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// VerifyOptions say what a log is checked against besides itself.
type VerifyOptions struct {
	// Origin names the log; every checkpoint must be of it.
	Origin string
	// Verifier is the log's public key. It is the only key needed.
	Verifier note.Verifier
	// Kept are signed checkpoints the auditor kept from earlier reads (or
	// that a witness cosigned). The log must hold every entry they cover and
	// extend each of them: that is what catches a log whose tail was cut, or
	// one rewritten and signed again by whoever holds the log key.
	Kept [][]byte
	// Expect are entries the log must hold, as the incidents' statuses
	// record them: what catches an incident removed whole, with the log
	// rebuilt and signed again without it.
	Expect []Expected
}

// Expected is where an incident's status says its entries sit: how many
// the log holds, and the index of the last of them. The log may hold more
// (the status is written after the log), never fewer.
type Expected struct {
	Namespace, Incident, UID string
	Entries                  int64
	Last                     int64
}

// check is one thing Verify checks. All are always on; tests turn one off
// to show which tampering it alone catches.
type check uint

const (
	checkIndexes     check = 1 << iota // entries and batches numbered from 0 without a gap
	checkLinks                         // each batch records the hash of the one before
	checkRoots                         // each batch's root is its entries' root
	checkSignatures                    // each checkpoint is signed by the log key
	checkCheckpoints                   // each batch's checkpoint covers it, with its root
	checkConsistency                   // each checkpoint extends the one before
	checkCoverage                      // the log holds all that a kept checkpoint covers
	checkExpected                      // the entries the statuses point to are there

	allChecks = checkIndexes | checkLinks | checkRoots | checkSignatures | checkCheckpoints | checkConsistency | checkCoverage | checkExpected
)

var checkNames = map[check]string{
	checkIndexes: "indexes", checkLinks: "links", checkRoots: "roots", checkSignatures: "signatures",
	checkCheckpoints: "checkpoints", checkConsistency: "consistency", checkCoverage: "coverage", checkExpected: "expected",
}

func (c check) String() string {
	var names []string
	for bit := check(1); bit <= c; bit <<= 1 {
		if c&bit != 0 {
			names = append(names, checkNames[bit])
		}
	}
	if len(names) == 0 {
		return "form"
	}
	return strings.Join(names, "+")
}

// Problem is one place where a log does not verify.
type Problem struct {
	// Index is the first entry concerned, Last the last; they are equal
	// when one entry is.
	Index, Last int64
	// Incidents are the incidents of the entries concerned, when the
	// entries are there to say.
	Incidents []string
	// Reason says what is wrong and how it may have come about.
	Reason string

	// check is what found it; zero for a batch that cannot be read.
	check check
}

// Check names what found the problem: indexes, links, roots, signatures,
// checkpoints, consistency, coverage or expected; "form" for a batch that
// cannot be read.
func (p Problem) Check() string { return p.check.String() }

func (p Problem) String() string {
	var b strings.Builder
	if p.Last > p.Index {
		fmt.Fprintf(&b, "entries %d-%d", p.Index, p.Last)
	} else {
		fmt.Fprintf(&b, "entry %d", p.Index)
	}
	if len(p.Incidents) > 0 {
		b.WriteString(" (")
		const most = 3
		b.WriteString(strings.Join(p.Incidents[:min(len(p.Incidents), most)], ", "))
		if len(p.Incidents) > most {
			fmt.Fprintf(&b, " and %d more", len(p.Incidents)-most)
		}
		b.WriteString(")")
	}
	b.WriteString(": ")
	b.WriteString(p.Reason)
	return b.String()
}

// BrokenError lists what is wrong with a log, by index.
type BrokenError struct {
	Problems []Problem
}

func (e *BrokenError) Error() string {
	msg := "log does not verify: " + e.Problems[0].String()
	if len(e.Problems) > 1 {
		msg += fmt.Sprintf(" (and %d more problems)", len(e.Problems)-1)
	}
	return msg
}

// Verify checks batches, in the order the archive lists them (by name), as
// a log: entries and batches numbered from 0 without a gap, each batch
// linked to the one before, each batch's root recomputed from the entries,
// each checkpoint signed by the log key with the root of the recomputed
// tree at its size, each checkpoint consistent with the one before it, and
// opts.Kept and opts.Expect as they say. It returns the newest checkpoint
// in the log, or a *BrokenError naming every problem by index.
func Verify(batches []Batch, opts VerifyOptions) (Checkpoint, error) {
	if opts.Verifier == nil {
		return Checkpoint{}, fmt.Errorf("verifying a log needs its public key")
	}
	if opts.Origin == "" {
		return Checkpoint{}, fmt.Errorf("verifying a log needs its origin")
	}
	newest, problems := verify(batches, opts, allChecks)
	if len(problems) > 0 {
		return newest, &BrokenError{Problems: problems}
	}
	return newest, nil
}

// signedAt is a checkpoint Verify read, and where.
type signedAt struct {
	Checkpoint
	where string
	kept  bool
}

type verification struct {
	opts     VerifyOptions
	checks   check
	problems []Problem

	// The tree recomputed from the batches read so far: its stored hashes,
	// its size, the hash of its last batch and the index the next entry
	// must have.
	hashes *MemoryHashes
	size   int64
	last   tlog.Hash
	next   int64

	// signed are the checkpoints read, newest the largest of the log's.
	signed []signedAt
	newest Checkpoint

	// found holds the entries at the indexes opts.Expect points to, Index
	// -1 until the log has one there; counted is how many entries each
	// incident has in the log.
	found   map[int64]Entry
	counted map[incidentKey]int64

	// incidentAt is, for each entry, its incident in incidents (-1 for
	// none), so that a problem found after the batches were read can still
	// name the incidents of the entries it concerns.
	incidentAt []int32
	incidents  []string
	incidentID map[incidentKey]int32
}

type incidentKey struct{ namespace, name, uid string }

// incident numbers e's incident, -1 when e names none.
func (v *verification) incident(e Entry) int32 {
	if e.Incident == "" && e.UID == "" {
		return -1
	}
	k := incidentKey{e.Namespace, e.Incident, e.UID}
	id, ok := v.incidentID[k]
	if !ok {
		id = int32(len(v.incidents))
		v.incidentID[k] = id
		v.incidents = append(v.incidents, e.who())
	}
	return id
}

// incidentsIn names the incidents of entries first to last, once each.
func (v *verification) incidentsIn(first, last int64) []string {
	var names []string
	seen := map[int32]bool{}
	for i := max(first, 0); i <= last && i < int64(len(v.incidentAt)); i++ {
		if id := v.incidentAt[i]; id >= 0 && !seen[id] {
			seen[id] = true
			names = append(names, v.incidents[id])
		}
	}
	return names
}

func (v *verification) add(c check, first, last int64, incidents []string, format string, args ...any) {
	if c != 0 && v.checks&c == 0 {
		return
	}
	v.problems = append(v.problems, Problem{Index: first, Last: last, Incidents: incidents, Reason: fmt.Sprintf(format, args...), check: c})
}

// open reads a signed checkpoint, checking its signature unless told not to.
func (v *verification) open(msg []byte) (Checkpoint, error) {
	if v.checks&checkSignatures == 0 {
		return readCheckpoint(msg)
	}
	return OpenCheckpoint(msg, v.opts.Origin, v.opts.Verifier)
}

func verify(batches []Batch, opts VerifyOptions, checks check) (Checkpoint, []Problem) {
	v := &verification{opts: opts, checks: checks, incidentID: map[incidentKey]int32{}, hashes: &MemoryHashes{}, found: map[int64]Entry{}, counted: map[incidentKey]int64{}}
	for _, x := range opts.Expect {
		v.found[x.Last] = Entry{Index: -1}
		v.counted[incidentKey{x.Namespace, "", x.UID}] = 0
	}
	for _, b := range batches {
		if err := v.batch(b); err != nil {
			v.add(0, v.size, v.size, nil, "hashing batch %s: %v", b.Name(), err)
			return v.newest, v.problems
		}
	}
	v.kept()
	v.consistent()
	v.expected()
	// In the order of the entries they end at, the narrowest first, so that
	// the most exact account of a change leads.
	slices.SortStableFunc(v.problems, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Last, b.Last), cmp.Compare(b.Index, a.Index))
	})
	return v.newest, v.problems
}

// batch reads the next batch into the recomputed tree, and checks it and
// its checkpoint against it.
func (v *verification) batch(b Batch) error {
	lines, err := b.Lines()
	if err != nil {
		v.add(0, b.First, b.First, nil, "batch %s cannot be read: %v", b.Name(), err)
		return nil
	}
	first, end := v.size, v.size+int64(len(lines))-1
	opened, incidents := v.entries(lines)
	if opened != b.First {
		v.add(checkIndexes, min(opened, b.First), max(opened, b.First), incidents, "batch %s is named for index %d but begins with entry %d (a batch was renumbered)", b.Name(), b.First, opened)
	}
	if b.Previous != v.last {
		v.add(checkLinks, first, end, incidents, "batch %s links to a previous batch whose hash is %s, but the batch before it hashes to %s (a batch was removed, moved or changed)", b.Name(), short(b.Previous), short(v.last))
	}
	v.last = b.Hash()

	added, root, err := grow(v.hashes, v.size, lines)
	if err != nil {
		return err
	}
	if err := v.hashes.AppendHashes(tlog.StoredHashCount(v.size), added); err != nil {
		return err
	}
	v.size += int64(len(lines))
	if b.Root != root {
		v.add(checkRoots, first, end, incidents, "batch %s records root %s, its entries give %s (an entry was edited, added or removed, or the root changed)", b.Name(), short(b.Root), short(root))
	}

	c, err := v.open(b.Checkpoint)
	if err != nil {
		v.add(checkSignatures, first, end, incidents, "batch %s: %v", b.Name(), err)
		return nil
	}
	switch {
	case c.Size != v.size:
		v.add(checkCheckpoints, first, end, incidents, "batch %s ends the log at size %d, its checkpoint is at size %d", b.Name(), v.size, c.Size)
	case c.Root != root:
		v.add(checkCheckpoints, first, end, incidents, "the checkpoint of batch %s signs root %s, the entries give %s (entries were changed after they were signed)", b.Name(), short(c.Root), short(root))
	}
	v.signed = append(v.signed, signedAt{c, "the checkpoint of batch " + b.Name(), false})
	if c.Size >= v.newest.Size {
		v.newest = c
	}
	return nil
}

// kept checks the checkpoints the auditor kept: signed by the log key, and
// covering no more than the log holds.
func (v *verification) kept() {
	for i, msg := range v.opts.Kept {
		c, err := v.open(msg)
		if err != nil {
			at, _ := readCheckpoint(msg)
			v.add(checkSignatures, max(at.Size-1, 0), max(at.Size-1, 0), nil, "kept checkpoint %d: %v", i, err)
			continue
		}
		if c.Size > v.size {
			v.add(checkCoverage, v.size, c.Size-1, nil, "missing: a kept checkpoint covers %d entries, the log holds %d (its end was cut off)", c.Size, v.size)
			continue
		}
		v.signed = append(v.signed, signedAt{c, fmt.Sprintf("the kept checkpoint at size %d", c.Size), true})
	}
}

// entries reads a batch's lines, which sit in the tree from its current
// size: each entry's index must be one more than the entry's before it, so
// that indexes run from 0 without a gap and each entry's index is its place
// in the tree. It keeps the entries Expect points to, and returns the index
// the batch's first entry gives and the incidents the batch is about.
func (v *verification) entries(lines [][]byte) (int64, []string) {
	first := v.size
	opened := first
	for i, line := range lines {
		at := first + int64(i)
		e, err := parseHeading(line)
		if err != nil {
			v.incidentAt = append(v.incidentAt, -1)
			v.add(0, at, at, nil, "not a log entry: %v", err)
			v.next++
			continue
		}
		v.incidentAt = append(v.incidentAt, v.incident(e))
		if i == 0 {
			opened = e.Index
		}
		switch {
		case e.Index > v.next:
			v.add(checkIndexes, v.next, e.Index-1, nil, "missing: the entry after %d is entry %d (entries or batches were removed)", v.next-1, e.Index)
		case e.Index < v.next:
			v.add(checkIndexes, e.Index, e.Index, v.incidentsIn(at, at), "entry %d comes again after entry %d (entries or batches were moved or repeated)", e.Index, v.next-1)
		}
		v.next = e.Index + 1
		if n, ok := v.counted[incidentKey{e.Namespace, "", e.UID}]; ok {
			v.counted[incidentKey{e.Namespace, "", e.UID}] = n + 1
		}
		if _, ok := v.found[at]; ok {
			v.found[at] = e
		}
	}
	return opened, v.incidentsIn(first, first+int64(len(lines))-1)
}

// consistent checks that each checkpoint, in the order of their sizes,
// extends the one before it, with proofs from the recomputed tree.
//
// Where two do not, one of them signs a history other than the one the
// log holds: the one whose root is not the recomputed tree's. Its problem
// names the entries from the largest checkpoint below it that does match
// the log and can be trusted to: a kept one, or one of the log's own when
// every kept checkpoint matches the log (otherwise the log's own may have
// been signed again over the rewrite).
func (v *verification) consistent() {
	signed, hashes, size := v.signed, v.hashes, v.size
	slices.SortStableFunc(signed, func(a, b signedAt) int { return cmp.Compare(a.Size, b.Size) })
	matches := make([]bool, len(signed))
	keptDiffers := false
	for i, c := range signed {
		if c.Size > size {
			continue
		}
		root, err := tlog.TreeHash(c.Size, hashes)
		matches[i] = err == nil && root == c.Root
		keptDiffers = keptDiffers || (c.kept && !matches[i])
	}
	reported := map[int]bool{}
	for i := 1; i < len(signed); i++ {
		older, newer := signed[i-1], signed[i]
		if newer.Size > size || older.Size == 0 {
			continue
		}
		var err error
		if older.Size == newer.Size {
			if older.Root != newer.Root {
				err = fmt.Errorf("it signs a different root at the same size")
			}
		} else {
			var proof tlog.TreeProof
			if proof, err = tlog.ProveTree(newer.Size, older.Size, hashes); err == nil {
				err = CheckConsistency(proof, older.Checkpoint, newer.Checkpoint)
			}
		}
		if err == nil {
			continue
		}
		differs := i
		if !matches[i-1] {
			differs = i - 1
		}
		if reported[differs] {
			continue
		}
		reported[differs] = true
		var from int64
		for j := differs - 1; j >= 0; j-- {
			if matches[j] && (signed[j].kept || !keptDiffers) && signed[j].Size < signed[differs].Size {
				from = signed[j].Size
				break
			}
		}
		to := signed[differs].Size - 1
		v.add(checkConsistency, from, to, v.incidentsIn(from, to), "%s does not extend %s: %v; %s signs other entries than the log holds here (the log was changed, or rewritten and signed again: a fork)", newer.where, older.where, err, signed[differs].where)
	}
}

// expected checks that the log holds the entries each status counts, up
// to the one it points to last.
func (v *verification) expected() {
	for _, x := range v.opts.Expect {
		who := fmt.Sprintf("incident %s/%s uid %s", x.Namespace, x.Incident, x.UID)
		e := v.found[x.Last]
		switch {
		case x.Last >= v.size:
			v.add(checkExpected, x.Last, x.Last, []string{who}, "missing: the incident's status points to entry %d, the log holds %d entries", x.Last, v.size)
			continue
		case e.Index < 0:
			// The entry could not be read; that is reported already.
			continue
		case e.UID != x.UID:
			holds := e.who()
			if holds == "" {
				holds = "no incident"
			}
			v.add(checkExpected, x.Last, x.Last, []string{who}, "the incident's status points here, but the entry is of %s (the incident's entries were removed)", holds)
			continue
		}
		if n := v.counted[incidentKey{x.Namespace, "", x.UID}]; n < x.Entries {
			v.add(checkExpected, x.Last, x.Last, []string{who}, "missing: the incident's status counts %d entries up to this one, the log holds %d of them (entries were removed)", x.Entries, n)
		}
	}
}

// parseHeading reads what Verify needs of an entry: its index and its
// incident. Leaving the rest unparsed halves the time verification takes.
func parseHeading(line []byte) (Entry, error) {
	var h struct {
		Index     int64  `json:"index"`
		Namespace string `json:"namespace"`
		Incident  string `json:"incident"`
		UID       string `json:"uid"`
	}
	if len(line) == 0 || line[0] != '{' {
		return Entry{}, errors.New("not a JSON object")
	}
	if err := json.Unmarshal(line, &h); err != nil {
		return Entry{}, err
	}
	return Entry{Index: h.Index, Namespace: h.Namespace, Incident: h.Incident, UID: h.UID}, nil
}

// short is a hash's first bytes, enough to tell two apart in a message.
func short(h tlog.Hash) string { return fmt.Sprintf("%x", h[:6]) }
