package web

import (
	"embed"
	"io/fs"
)

// dashboardFiles holds the dashboard: plain HTML, CSS and ES modules with a
// vendored uPlot, no build step. It is embedded so the cloud binary serves it
// with no CDN and no internet (a field laptop may be offline).
//
//go:embed dashboard
var dashboardFiles embed.FS

// DashboardFS returns the dashboard's static files with index.html at the
// root, ready for http.FileServerFS. The files are read-only and safe for
// concurrent use.
//
// The page loads everything relative to its own URL: it expects the cloud
// API (api/devices, api/devices/{id}/readings, api/stream) beside it, so it
// works at "/" and behind a proxy that mounts the cloud under a prefix.
//
// For tests, the page exposes a read-only hook, window.tributary, whose
// functions return plain-data snapshots:
//
//	devices()           [{id, online, lastSeen, lastSeq, latest: [reading...]}], by id
//	selected()          id of the device shown (URL hash #device=ID), or null
//	charts()            [{metric, unit, sensors, points, canvas: {width, height}}], in page order
//	chartPoints(metric) values drawn by the charts of metric
//	connection()        {state: connecting|live|down|reconnecting, reason, reconnects, retryInMs, historyLoads}
//	commands()          {user, operator, note, actuators: [{name, kind, state, disabled}],
//	                     records: [{id, actuator, value, by, state, text}]} of the selected device, newest first
func DashboardFS() fs.FS {
	sub, err := fs.Sub(dashboardFiles, "dashboard")
	if err != nil {
		panic("web: dashboard files: " + err.Error()) // cannot happen: "dashboard" is embedded
	}
	return sub
}
