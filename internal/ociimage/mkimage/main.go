// Command mkimage is `make images`: it builds Tributary's container images
// from static binaries already built for each platform, without a container
// engine, into an OCI layout directory and an OCI archive per image.
//
//	mkimage --bin bin/images/bin --out bin/images --version v1.2.0
//
// reads BIN/<os>-<arch><variant>/<command> (bin/images/bin/linux-armv6/edge)
// and writes OUT/<image>/ (an OCI layout: skopeo copy oci:OUT/<image> ...)
// and OUT/<image>.oci.tar (podman load -i, docker load -i). The creation
// time of the files and configs is $SOURCE_DATE_EPOCH (default 0), so the
// same binaries make the same digests.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/tributary-iot/tributary/internal/ociimage"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mkimage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	binDir := fs.String("bin", "bin/images/bin", "`dir` holding <os>-<arch><variant>/<command> for every platform")
	out := fs.String("out", "bin/images", "output `dir`")
	images := fs.String("images", "", "comma-separated image `names` (default all: tributary-cloud, tributary-bridge, tributary-edge)")
	platforms := fs.String("platforms", "", "comma-separated `platforms` (default all: linux/amd64, linux/arm64, linux/arm/v7, linux/arm/v6)")
	tag := fs.String("tag", "latest", "the images' `tag`")
	version := fs.String("version", "devel", "org.opencontainers.image.version label")
	revision := fs.String("revision", "", "org.opencontainers.image.revision label (a commit)")
	caCerts := fs.String("ca-certs", ociimage.DefaultCACerts, "PEM `file` of CA certificates to install")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	created := time.Unix(0, 0)
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH=%q: not seconds since the epoch", s)
		}
		created = time.Unix(sec, 0)
	}
	specs := ociimage.Images
	if *images != "" {
		specs = nil
		for _, n := range strings.Split(*images, ",") {
			s, ok := ociimage.Lookup(strings.TrimSpace(n))
			if !ok {
				return fmt.Errorf("--images: no image %q", n)
			}
			specs = append(specs, s)
		}
	}
	plats := ociimage.Platforms
	if *platforms != "" {
		plats = nil
		for _, s := range strings.Split(*platforms, ",") {
			p, err := ociimage.ParsePlatform(strings.TrimSpace(s))
			if err != nil {
				return fmt.Errorf("--platforms: %w", err)
			}
			plats = append(plats, p)
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	opt := ociimage.Options{Version: *version, Revision: *revision, Created: created, CACerts: *caCerts}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "image\tplatform\tlayer (gzip)\tunpacked\t\n")
	for _, spec := range specs {
		bins := map[ociimage.Platform]string{}
		for _, p := range plats {
			bins[p] = filepath.Join(*binDir, p.Slug(), spec.Command)
		}
		idx, err := ociimage.Build(spec, bins, opt)
		if err != nil {
			return err
		}
		dir := filepath.Join(*out, spec.Name)
		if err := ociimage.WriteLayout(dir, idx, spec.Name, *tag); err != nil {
			return err
		}
		archive := dir + ".oci.tar"
		if err := ociimage.WriteArchive(archive, dir, created); err != nil {
			return err
		}
		if err := report(tw, spec.Name, idx); err != nil {
			return err
		}
		st, err := os.Stat(archive)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\tall, %s\t%s\t\t\n", spec.Name, filepath.Base(archive), mib(st.Size()))
	}
	return tw.Flush()
}

// report prints each platform's layer size, compressed and not.
func report(w io.Writer, name string, idx v1.ImageIndex) error {
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			return err
		}
		layers, err := img.Layers()
		if err != nil {
			return err
		}
		var packed, unpacked int64
		for _, l := range layers {
			n, err := l.Size()
			if err != nil {
				return err
			}
			packed += n
			rc, err := l.Uncompressed()
			if err != nil {
				return err
			}
			m, err := io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil {
				return err
			}
			unpacked += m
		}
		p := d.Platform
		plat := ociimage.Platform{OS: p.OS, Arch: p.Architecture, Variant: p.Variant}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t\n", name, plat, mib(packed), mib(unpacked))
	}
	return nil
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
