package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// What the image runs, and as whom. The Dockerfile says the same, and
// test/image checks that the two agree.
const (
	Entrypoint = "/manager"
	// Witness is the transparency-log witness (cmd/witness), which another
	// team runs from the same image with its own key, in its own
	// namespace (charts/incident-witness).
	Witness = "/witness"
	// User is distroless' nonroot, so that runAsNonRoot holds without a
	// runAsUser in the pod.
	User = "65532:65532"
	// CACertificates is where Go's crypto/x509 looks first on Linux.
	CACertificates = "/etc/ssl/certs/ca-certificates.crt"
)

// Spec is what goes into the image.
type Spec struct {
	Binary         string // the static operator binary
	WitnessBinary  string // the static witness binary
	CACertificates string // a PEM bundle, such as the build host's
	Arch           string // GOARCH of the binary
	Version        string
	Revision       string
	Source         string
	// Created dates the image and every file in it; the commit's time makes
	// the same commit build the same bytes.
	Created time.Time
}

// file is one entry of the image's only layer.
type file struct {
	name    string
	mode    int64
	uid     int
	content []byte // nil for a directory
}

// passwd names the two users, so that tools that look the user up (and Go's
// os/user) find one.
const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group  = "root:x:0:\nnonroot:x:65532:\n"
)

// Build makes the image: one layer on an empty base, OCI media types.
func Build(s Spec) (v1.Image, error) {
	binary, err := os.ReadFile(s.Binary)
	if err != nil {
		return nil, err
	}
	witness, err := os.ReadFile(s.WitnessBinary)
	if err != nil {
		return nil, err
	}
	certs, err := os.ReadFile(s.CACertificates)
	if err != nil {
		return nil, err
	}
	layerTar, err := tarFiles(s.Created, []file{
		{name: "etc/", mode: 0o755},
		{name: "etc/group", mode: 0o644, content: []byte(group)},
		{name: "etc/passwd", mode: 0o644, content: []byte(passwd)},
		{name: "etc/ssl/", mode: 0o755},
		{name: "etc/ssl/certs/", mode: 0o755},
		{name: CACertificates[1:], mode: 0o644, content: certs},
		{name: "home/", mode: 0o755},
		{name: "home/nonroot/", mode: 0o700, uid: 65532},
		{name: Entrypoint[1:], mode: 0o755, content: binary},
		{name: Witness[1:], mode: 0o755, content: witness},
		// Writable where the root filesystem is; a read-only one needs an
		// emptyDir here, as config/manager mounts.
		{name: "tmp/", mode: 0o1777},
	})
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}

	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	created := v1.Time{Time: s.Created.UTC()}
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: created, CreatedBy: "make image", Comment: "the operator and witness binaries, CA certificates, the nonroot user"},
	})
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	labels := Labels(s)
	cfg.Architecture, cfg.OS, cfg.Created = s.Arch, "linux", created
	cfg.Config = v1.Config{
		Entrypoint: []string{Entrypoint},
		User:       User,
		WorkingDir: "/",
		Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Labels:     labels,
	}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return nil, err
	}
	return mutate.Annotations(img, labels).(v1.Image), nil
}

// Labels are the OCI annotations the image carries both as config labels
// (what `docker inspect` shows) and as manifest annotations (what
// registries show).
func Labels(s Spec) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":    "incident-operator",
		"org.opencontainers.image.version":  s.Version,
		"org.opencontainers.image.revision": s.Revision,
		"org.opencontainers.image.source":   s.Source,
		"org.opencontainers.image.created":  s.Created.UTC().Format(time.RFC3339),
	}
}

// tarFiles writes files in the given order, every one dated at mtime and
// owned by root unless it says otherwise, so that the layer's bytes depend
// on its content only.
func tarFiles(mtime time.Time, files []file) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{
			Name:    f.name,
			Mode:    f.mode,
			Uid:     f.uid,
			Gid:     f.uid,
			ModTime: mtime.UTC(),
			Format:  tar.FormatPAX,
		}
		if f.content == nil {
			hdr.Typeflag = tar.TypeDir
		} else {
			hdr.Typeflag = tar.TypeReg
			hdr.Size = int64(len(f.content))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		if _, err := tw.Write(f.content); err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
