// Package ociimage builds Tributary's container images without a container
// engine: each image is a single layer (the static binary, CA certificates,
// /etc/passwd and /etc/group with a non-root user, /tmp and, where the
// binary keeps state, a directory that user owns) on nothing ("FROM
// scratch"), one per platform, gathered in a multi-platform OCI image index.
//
// It writes an OCI image layout (a directory) and the same layout as a tar
// archive, which `podman load`, `docker load` (Docker 25 and later) and
// `skopeo copy oci-archive:...` accept. The images are reproducible: every
// file and the config carry one timestamp (SOURCE_DATE_EPOCH), so the same
// binaries give the same digests.
//
// Images is the table of the images (cloud, bridge, edge); Platforms the
// platforms. Build checks each binary's Go build information against its
// platform (GOOS, GOARCH, GOARM, CGO_ENABLED=0), so an armv7 binary cannot
// end up in the armv6 image that a Raspberry Pi Zero would run.
//
// The mkimage command (internal/ociimage/mkimage) is `make images`.
package ociimage
