package main

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// WriteArchive writes img as one tar that is both an OCI image layout
// (oci-layout, index.json, blobs/) and, through manifest.json, the archive
// `docker save` writes, as Docker 25 and later do. Every entry is dated
// mtime, so the archive's bytes depend on the image only.
func WriteArchive(w io.Writer, img v1.Image, tag name.Tag, mtime time.Time) error {
	config, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	configDigest, err := img.ConfigName()
	if err != nil {
		return err
	}
	manifest, err := img.RawManifest()
	if err != nil {
		return err
	}
	manifestDigest, err := img.Digest()
	if err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}

	index, err := json.Marshal(v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType: types.OCIManifestSchema1,
			Size:      int64(len(manifest)),
			Digest:    manifestDigest,
			Annotations: map[string]string{
				"io.containerd.image.name":          tag.Name(),
				"org.opencontainers.image.ref.name": tag.TagStr(),
			},
			Platform: &v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture},
		}},
	})
	if err != nil {
		return err
	}
	dockerManifest := []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}{{Config: blobPath(configDigest), RepoTags: []string{tag.Name()}}}

	tw := tar.NewWriter(w)
	put := func(path string, content []byte) error {
		hdr := &tar.Header{Name: path, Mode: 0o644, Size: int64(len(content)), ModTime: mtime.UTC(), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(content)
		return err
	}
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Name: dir, Mode: 0o755, ModTime: mtime.UTC(), Typeflag: tar.TypeDir, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	if err := put(blobPath(configDigest), config); err != nil {
		return err
	}
	for _, layer := range layers {
		digest, err := layer.Digest()
		if err != nil {
			return err
		}
		size, err := layer.Size()
		if err != nil {
			return err
		}
		if err := putLayer(tw, blobPath(digest), size, mtime, layer); err != nil {
			return fmt.Errorf("layer %s: %w", digest, err)
		}
		dockerManifest[0].Layers = append(dockerManifest[0].Layers, blobPath(digest))
	}
	if err := put(blobPath(manifestDigest), manifest); err != nil {
		return err
	}
	if err := put("index.json", index); err != nil {
		return err
	}
	docker, err := json.Marshal(dockerManifest)
	if err != nil {
		return err
	}
	if err := put("manifest.json", docker); err != nil {
		return err
	}
	if err := put("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	return tw.Close()
}

func putLayer(tw *tar.Writer, path string, size int64, mtime time.Time, layer v1.Layer) error {
	blob, err := layer.Compressed()
	if err != nil {
		return err
	}
	defer blob.Close()
	if err := tw.WriteHeader(&tar.Header{Name: path, Mode: 0o644, Size: size, ModTime: mtime.UTC(), Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err = io.Copy(tw, blob)
	return err
}

func blobPath(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }
