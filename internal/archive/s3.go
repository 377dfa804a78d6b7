package archive

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3Config says where in S3 an archive is kept and how to reach it.
type S3Config struct {
	// URL is the bucket and the prefix the archive's keys go under:
	// s3://bucket/prefix, or s3://bucket for none.
	URL string
	// Endpoint is the server's URL, such as http://127.0.0.1:7070; empty
	// for AWS's own endpoint of Region.
	Endpoint string
	// Region is the bucket's region; us-east-1 when empty.
	Region string
	// AccessKeyID and SecretAccessKey, with SessionToken for temporary
	// ones, are the credentials, unless Credentials gives them (such as the
	// AWS SDK's default chain, for a pod's web identity).
	AccessKeyID, SecretAccessKey, SessionToken string
	Credentials                                aws.CredentialsProvider
	// PathStyle puts the bucket in the URL's path rather than its host
	// name, as most servers other than AWS want.
	PathStyle bool
	// HeadThenPut is for a server that ignores If-None-Match on PUT, and so
	// would replace an object: Create asks whether the key exists, then
	// puts. Two writers of one key can then both pass the question and the
	// second replaces the first; the operator's archive has one writer per
	// log, and Object Lock keeps the first version where the bucket has it.
	HeadThenPut bool
	// HTTPClient is the client requests go through; http.DefaultClient's
	// transport when nil.
	HTTPClient *http.Client
}

// S3 is a Store in an S3 bucket. Create puts with If-None-Match: *, which
// the server refuses when the key exists (AWS since 2024, and the servers
// that follow it), so that an object is never replaced, however many
// writers race. Where the bucket has Object Lock, an object created with a
// retainUntil is locked in COMPLIANCE mode until then: nobody, its owner
// and the account's root included, can delete or overwrite it before.
type S3 struct {
	client *s3.Client
	bucket string
	prefix string // "" or ending in "/"
	head   bool
	locked bool
}

// NewS3 connects to the bucket cfg names and asks whether it has Object
// Lock.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("archive URL %q must be s3://bucket/prefix", cfg.URL)
	}
	s := &S3{bucket: u.Host, head: cfg.HeadThenPut}
	if prefix := strings.Trim(u.Path, "/"); prefix != "" {
		if err := checkKey(prefix, false); err != nil {
			return nil, fmt.Errorf("archive URL %q: %w", cfg.URL, err)
		}
		s.prefix = prefix + "/"
	}
	creds := cfg.Credentials
	if creds == nil {
		if cfg.AccessKeyID == "" || cfg.SecretAccessKey == "" {
			return nil, errors.New("the S3 archive needs an access key ID and a secret access key, or a credentials provider")
		}
		creds = credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)
	}
	opts := s3.Options{Region: cmp.Or(cfg.Region, "us-east-1"), Credentials: aws.NewCredentialsCache(creds), UsePathStyle: cfg.PathStyle}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	if cfg.HTTPClient != nil {
		opts.HTTPClient = cfg.HTTPClient
	}
	s.client = s3.New(opts)
	lock, err := s.client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String(s.bucket)})
	switch {
	case err == nil:
		s.locked = lock.ObjectLockConfiguration != nil && lock.ObjectLockConfiguration.ObjectLockEnabled == types.ObjectLockEnabledEnabled
	case hasCode(err, "ObjectLockConfigurationNotFoundError"):
	default:
		return nil, fmt.Errorf("asking whether bucket %s has Object Lock: %w", s.bucket, err)
	}
	return s, nil
}

// Locked says whether the bucket has Object Lock, so that Create locks
// what it writes.
func (s *S3) Locked() bool { return s.locked }

// Create puts data at key unless key exists.
func (s *S3) Create(ctx context.Context, key string, data []byte, retainUntil time.Time) error {
	if err := checkKey(key, false); err != nil {
		return err
	}
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(s.prefix + key),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	}
	if s.locked && !retainUntil.IsZero() {
		in.ObjectLockMode = types.ObjectLockModeCompliance
		in.ObjectLockRetainUntilDate = aws.Time(retainUntil)
	}
	if s.head {
		_, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: in.Bucket, Key: in.Key})
		switch {
		case err == nil:
			return &KeyError{"create", key, ErrExists}
		case status(err) != http.StatusNotFound:
			return &KeyError{"create", key, err}
		}
	} else {
		in.IfNoneMatch = aws.String("*")
	}
	// A conflict is another conditional write of the key in flight: the
	// next try finds the key there, or writes it.
	for try := 0; ; try++ {
		_, err := s.client.PutObject(ctx, in)
		switch {
		case err == nil:
			return nil
		case status(err) == http.StatusPreconditionFailed:
			return &KeyError{"create", key, ErrExists}
		case status(err) == http.StatusConflict && try < 5:
			in.Body = bytes.NewReader(data)
			continue
		}
		return &KeyError{"create", key, err}
	}
}

// Get reads key.
func (s *S3) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key, false); err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(s.prefix + key)})
	if err != nil {
		if status(err) == http.StatusNotFound {
			return nil, &KeyError{"get", key, ErrNotFound}
		}
		return nil, &KeyError{"get", key, err}
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, &KeyError{"get", key, err}
	}
	return data, nil
}

// List lists the keys under the archive's prefix that begin with prefix.
func (s *S3) List(ctx context.Context, prefix string) ([]string, error) {
	if err := checkKey(prefix, true); err != nil {
		return nil, err
	}
	var keys []string
	pages := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(s.prefix + prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing %q in bucket %s: %w", s.prefix+prefix, s.bucket, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, strings.TrimPrefix(aws.ToString(o.Key), s.prefix))
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// status is the HTTP status of a failed request, 0 when it got none.
func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// hasCode says whether err is the S3 error named code.
func hasCode(err error, code string) bool {
	var apiErr interface{ ErrorCode() string }
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == code
}
