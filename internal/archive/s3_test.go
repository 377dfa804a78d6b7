package archive

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/incidentops/incident-operator/internal/translog"
)

func TestS3Store(t *testing.T) {
	testStore(t, func(t *testing.T) Store { return newS3Store(t, false, false) })
}

// In a bucket with Object Lock the same contract holds.
func TestS3StoreWithObjectLock(t *testing.T) {
	testStore(t, func(t *testing.T) Store { return newS3Store(t, true, false) })
}

func TestS3Tamperings(t *testing.T) { testTamperings(t, s3Storage) }

// For a server that ignores If-None-Match, a HEAD before the PUT keeps one
// writer from replacing what is there.
func TestS3HeadThenPut(t *testing.T) {
	ctx := context.Background()
	s := newS3Store(t, false, true)
	if err := s.Create(ctx, "log/batches/log-1", []byte("first"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, "log/batches/log-1", []byte("second"), time.Time{}); !errors.Is(err, ErrExists) {
		t.Fatalf("second Create = %v, want ErrExists", err)
	}
	if got, err := s.Get(ctx, "log/batches/log-1"); err != nil || string(got) != "first" {
		t.Fatalf("Get = %q, %v", got, err)
	}
}

// In a bucket with Object Lock, the writer's objects are locked in
// COMPLIANCE mode until the retention its clock gives, and the server
// refuses their owner to delete or overwrite them: the tamperings the
// table runs on an unlocked bucket cannot be made.
func TestS3ObjectLockRetentionIsEnforced(t *testing.T) {
	ctx := context.Background()
	key := newKeyPair(t, "k")
	batches := writeLog(t, key, nil, yearOfIncidents(20, 20), 100)
	s := newS3Store(t, true, false)
	now := time.Now().UTC().Truncate(time.Second)
	w := NewWriter(s, 24*time.Hour, clocktesting.NewFakePassiveClock(now))
	for _, b := range batches {
		if err := w.Append(ctx, testOrigin, b); err != nil {
			t.Fatal(err)
		}
	}
	client := s3Client(t)
	keys, err := s.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2*len(batches)+1 { // batches, checkpoints and tile 0
		t.Fatalf("archived %q", keys)
	}
	for _, key := range keys {
		object := &s3.GetObjectRetentionInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)}
		retention, err := client.GetObjectRetention(ctx, object)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if retention.Retention.Mode != types.ObjectLockRetentionModeCompliance || !aws.ToTime(retention.Retention.RetainUntilDate).Equal(now.Add(24*time.Hour)) {
			t.Errorf("%s is retained %s until %s, want COMPLIANCE until %s", key, retention.Retention.Mode, aws.ToTime(retention.Retention.RetainUntilDate), now.Add(24*time.Hour))
		}
	}

	batchKey := s.prefix + batchKey(testOrigin, batches[1].First)
	_, err = client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(batchKey), BypassGovernanceRetention: aws.Bool(true)})
	if !isDenied(err) {
		t.Errorf("deleting a locked batch: %v, want it refused", err)
	}
	edited := edited(t, batches[1], 150, func(e *translog.Entry) { e.Action = "Dismissed" })
	_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(batchKey), Body: bytes.NewReader(edited.Encode())})
	if !isDenied(err) {
		t.Errorf("overwriting a locked batch: %v, want it refused", err)
	}
	tileKey := s.prefix + tileKey(testOrigin, 0, 0)
	_, err = client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(tileKey)})
	if !isDenied(err) {
		t.Errorf("deleting a locked tile: %v, want it refused", err)
	}
	// Shortening the retention is refused too.
	_, err = client.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{
		Bucket: aws.String(s.bucket), Key: aws.String(batchKey),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeCompliance, RetainUntilDate: aws.Time(now.Add(time.Minute))},
	})
	if !isDenied(err) {
		t.Errorf("shortening a batch's retention: %v, want it refused", err)
	}
	opts := translog.VerifyOptions{Origin: testOrigin, Verifier: key.verifier}
	if _, err := Verify(ctx, s, testOrigin, opts, year, month(13)); err != nil {
		t.Fatalf("the locked archive after the attempts: %v", err)
	}
}

func TestNewS3RefusesABadURL(t *testing.T) {
	for _, u := range []string{"http://bucket/prefix", "s3:///prefix", "s3://bucket/a/../b", "s3://bucket/p?versionId=1"} {
		_, err := NewS3(context.Background(), S3Config{URL: u, AccessKeyID: "a", SecretAccessKey: "b"})
		if err == nil || !strings.Contains(err.Error(), "archive URL") {
			t.Errorf("NewS3(%q) = %v", u, err)
		}
	}
	if _, err := NewS3(context.Background(), S3Config{URL: "s3://bucket"}); err == nil || !strings.Contains(err.Error(), "needs an access key") {
		t.Errorf("NewS3 without credentials: %v", err)
	}
}
