package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The S3 tests run against the Versity S3 Gateway on loopback, with its
// posix backend in a temporary directory: built into bin/ by
// hack/build-s3.sh, which the tests run when it is missing.

const (
	s3AccessKey = "archive-test"
	s3SecretKey = "archive-test-secret"
)

var s3Server struct {
	once     sync.Once
	endpoint string
	err      error
	cmd      *exec.Cmd
	exited   chan error
	dir      string
	output   *bytes.Buffer
	buckets  atomic.Int64
}

func TestMain(m *testing.M) {
	code := m.Run()
	if cmd := s3Server.cmd; cmd != nil {
		_ = cmd.Process.Kill()
		<-s3Server.exited
	}
	if s3Server.dir != "" {
		os.RemoveAll(s3Server.dir)
	}
	os.Exit(code)
}

// s3Endpoint is the URL of the package's S3 server, started the first time
// a test asks.
func s3Endpoint(t testing.TB) string {
	t.Helper()
	s3Server.once.Do(func() { s3Server.endpoint, s3Server.err = startS3() })
	if s3Server.err != nil {
		t.Fatalf("the S3 server for the archive's tests: %v", s3Server.err)
	}
	return s3Server.endpoint
}

// versitygw is the server's binary: $VERSITYGW, or bin/versitygw, built by
// hack/build-s3.sh if missing.
func versitygw() (string, error) {
	if bin := os.Getenv("VERSITYGW"); bin != "" {
		return bin, nil
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, "bin", "versitygw")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	build := exec.Command(filepath.Join(root, "hack", "build-s3.sh"))
	build.Dir = root
	build.Env = append(os.Environ(), "LOCALBIN="+filepath.Join(root, "bin"))
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s is missing and hack/build-s3.sh failed (run it to see why): %v\n%s", bin, err, out)
	}
	return bin, nil
}

func startS3() (string, error) {
	bin, err := versitygw()
	if err != nil {
		return "", err
	}
	if s3Server.dir, err = os.MkdirTemp("", "archive-s3-"); err != nil {
		return "", err
	}
	// A free port can be taken between asking and listening: try again.
	for try := 0; ; try++ {
		endpoint, err := runS3(bin)
		if err == nil || try == 2 {
			return endpoint, err
		}
	}
}

func runS3(bin string) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	l.Close()
	s3Server.output = &bytes.Buffer{}
	cmd := exec.Command(bin, "--access", s3AccessKey, "--secret", s3SecretKey, "--port", addr, "--quiet", "posix", s3Server.dir)
	cmd.Stdout, cmd.Stderr = s3Server.output, s3Server.output
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		select {
		case err := <-exited:
			return "", fmt.Errorf("versitygw exited: %v\n%s", err, s3Server.output)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			s3Server.cmd, s3Server.exited = cmd, exited
			return "http://" + addr, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return "", fmt.Errorf("versitygw did not listen on %s in 20s:\n%s", addr, s3Server.output)
}

// s3Client is a client of the test server with the rights of the bucket's
// owner, for what the archive's store never does: replace and delete.
func s3Client(t testing.TB) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(s3AccessKey, s3SecretKey, ""),
		BaseEndpoint: aws.String(s3Endpoint(t)),
		UsePathStyle: true,
	})
}

// newBucket creates a bucket of its own for a test, with Object Lock when
// locked.
func newBucket(t testing.TB, locked bool) string {
	t.Helper()
	name := fmt.Sprintf("archive-%d", s3Server.buckets.Add(1))
	in := &s3.CreateBucketInput{Bucket: aws.String(name)}
	if locked {
		in.ObjectLockEnabledForBucket = aws.Bool(true)
	}
	if _, err := s3Client(t).CreateBucket(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	return name
}

// newS3Store is the archive's store in a new bucket, under a prefix.
func newS3Store(t testing.TB, locked, headThenPut bool) *S3 {
	t.Helper()
	s, err := NewS3(context.Background(), S3Config{
		URL:             "s3://" + newBucket(t, locked) + "/archives/cluster-a",
		Endpoint:        s3Endpoint(t),
		AccessKeyID:     s3AccessKey,
		SecretAccessKey: s3SecretKey,
		PathStyle:       true,
		HeadThenPut:     headThenPut,
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Locked() != locked {
		t.Fatalf("the store says the bucket is locked: %v, want %v", s.Locked(), locked)
	}
	return s
}

// s3Storage is an archive in a bucket without Object Lock, which its
// owner can change.
func s3Storage(t *testing.T) storage {
	s := newS3Store(t, false, false)
	client := s3Client(t)
	return storage{
		Store: s,
		replace: func(t testing.TB, key string, data []byte) {
			_, err := client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key), Body: bytes.NewReader(data)})
			if err != nil {
				t.Fatal(err)
			}
		},
		remove: func(t testing.TB, key string) {
			_, err := client.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
			if err != nil {
				t.Fatal(err)
			}
		},
	}
}

// isDenied says whether err is the server's refusal.
func isDenied(err error) bool {
	return err != nil && (hasCode(err, "AccessDenied") || errors.Is(err, ErrExists))
}
