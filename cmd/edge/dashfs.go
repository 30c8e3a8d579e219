package main

import (
	"bytes"
	"errors"
	"io/fs"
	"time"
)

// edgeMarker is how the dashboard page learns that it is served by an
// edge: its index.html has it on the html element, and only then does the
// edge panel (web/dashboard/js/edge.js) ask for GET api/edge. The cloud's
// page never asks, so it logs no 404.
const (
	edgeMarkerFrom = `<html lang="en">`
	edgeMarkerTo   = `<html lang="en" data-site="edge">`
)

// edgeDashboard is the dashboard's files with index.html marked as the
// edge's.
func edgeDashboard(base fs.FS) (fs.FS, error) {
	index, err := fs.ReadFile(base, "index.html")
	if err != nil {
		return nil, err
	}
	marked := bytes.Replace(index, []byte(edgeMarkerFrom), []byte(edgeMarkerTo), 1)
	if bytes.Equal(marked, index) {
		return nil, errors.New("dashboard: index.html has no " + edgeMarkerFrom + " to mark as the edge's")
	}
	return markedFS{base: base, index: marked}, nil
}

type markedFS struct {
	base  fs.FS
	index []byte
}

func (m markedFS) Open(name string) (fs.File, error) {
	if name != "index.html" {
		return m.base.Open(name)
	}
	return &memFile{Reader: bytes.NewReader(m.index), size: int64(len(m.index))}, nil
}

// memFile is index.html in memory; it reads, seeks and stats as
// http.FileServerFS needs.
type memFile struct {
	*bytes.Reader
	size int64
}

func (f *memFile) Stat() (fs.FileInfo, error) { return memInfo{size: f.size}, nil }
func (f *memFile) Close() error               { return nil }

type memInfo struct{ size int64 }

func (i memInfo) Name() string       { return "index.html" }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return 0o444 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }
