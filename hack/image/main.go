// Command image builds the operator's container image without a registry or
// a container engine: one layer holding the static operator and witness
// binaries, CA certificates and the nonroot user, on an empty base, written
// as an OCI image layout in a tar that `docker load` also reads. `make
// image` runs it.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

func main() {
	var (
		spec    Spec
		ref     string
		out     string
		created string
	)
	flag.StringVar(&spec.Binary, "binary", "bin/image/manager", "The operator binary, built with CGO_ENABLED=0 for linux.")
	flag.StringVar(&spec.WitnessBinary, "witness", "bin/image/witness", "The witness binary (cmd/witness), built with CGO_ENABLED=0 for linux; the image holds it at /witness.")
	flag.StringVar(&spec.CACertificates, "ca-certificates", CACertificates, "PEM bundle of the CA certificates the operator trusts for receivers and SMTP.")
	flag.StringVar(&spec.Arch, "arch", runtime.GOARCH, "GOARCH the binary was built for.")
	flag.StringVar(&spec.Version, "version", "unknown", "Version stamped into the binary; the org.opencontainers.image.version label.")
	flag.StringVar(&spec.Revision, "revision", "unknown", "Git commit; the org.opencontainers.image.revision label.")
	flag.StringVar(&spec.Source, "source", "https://github.com/incidentops/incident-operator", "The org.opencontainers.image.source label.")
	flag.StringVar(&created, "created", "1970-01-01T00:00:00Z", "RFC 3339 time the image and its files are dated, such as the commit's; a fixed time makes builds reproducible.")
	flag.StringVar(&ref, "tag", "ghcr.io/incidentops/incident-operator:v0.1.0", "The name and tag the archive gives the image.")
	flag.StringVar(&out, "out", "bin/incident-operator-image.tar", "Where to write the archive.")
	flag.Parse()

	if err := run(spec, ref, created, out); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(spec Spec, ref, created, out string) error {
	var err error
	if spec.Created, err = time.Parse(time.RFC3339, created); err != nil {
		return fmt.Errorf("--created: %w", err)
	}
	// A digest is what a build makes, not what it is given; a tag is what
	// names the image in the archive.
	if strings.Contains(ref, "@") {
		return fmt.Errorf("IMG=%s: an image being built has no digest yet; give [registry[:port]/]repository:tag, and the digest is printed when the archive is written", ref)
	}
	if last := ref[strings.LastIndex(ref, "/")+1:]; !strings.Contains(last, ":") {
		return fmt.Errorf("IMG=%s: name the tag the archive gives the image, such as %s:v1", ref, ref)
	}
	tag, err := name.NewTag(ref, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("IMG=%s: %w", ref, err)
	}
	img, err := Build(spec)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".image-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := WriteArchive(tmp, img, tag, spec.Created); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s %s@%s\n", out, tag.Name(), digest)
	return nil
}
