package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// device is one element of GET /api/devices.
type device struct {
	store.Device
	// Online is whether the device's last reading arrived within
	// Options.OfflineAfter (by the cloud's clock against Redis's).
	Online bool `json:"online"`
}

// OfflineAfterHeader, on GET /api/devices, is Options.OfflineAfter in
// milliseconds, so that clients judge online/offline as the server does.
const OfflineAfterHeader = "Tributary-Offline-After-Ms"

// devices answers GET /api/devices: a page of the devices the store knows,
// by id, as a JSON array (?limit=N, default store.DefaultDevicePage, at most
// store.MaxDevicePage; ?after=ID lists the ids after ID). When more
// follow, a Link header names the next page: <?after=ID&limit=N>;
// rel="next", relative to the request's URL.
func (s *server) devices(w http.ResponseWriter, r *http.Request) {
	v, err := parseQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	after, limit, err := parseDevicesQuery(v)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opt.StoreTimeout)
	defer cancel()
	page, err := s.opt.Store.DevicesPage(ctx, after, limit)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if page.Skipped > 0 {
		s.malformed("latest", page.Skipped, page.SkippedExample)
	}
	now := s.opt.Now()
	h := w.Header()
	// The dashboard applies the same threshold to readings it sees live.
	h.Set(OfflineAfterHeader, strconv.FormatInt(s.opt.OfflineAfter.Milliseconds(), 10))
	if page.Next != "" {
		next := url.Values{"after": {page.Next}}
		if limit > 0 {
			next.Set("limit", strconv.Itoa(limit))
		}
		h.Set("Link", "<?"+next.Encode()+`>; rel="next"`)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	// One device at a time: the answer is never held whole twice.
	b := []byte{'['}
	for i, d := range page.Devices {
		if i > 0 {
			b = append(b, ',')
		}
		j, err := json.Marshal(device{Device: d, Online: !d.LastSeen.IsZero() && now.Sub(d.LastSeen) <= s.opt.OfflineAfter})
		if err != nil { // a device of valid readings always encodes
			s.opt.Logger.Error("devices: encode", "device", d.ID, "err", err)
			continue
		}
		b = append(b, j...)
		if len(b) >= 32<<10 {
			if _, err := w.Write(b); err != nil {
				return
			}
			b = b[:0]
		}
	}
	w.Write(append(b, "]\n"...))
}

// parseQuery parses the request's query string: a malformed one is an
// error, never a wider selection (url.URL.Query drops what it cannot parse).
func parseQuery(r *http.Request) (url.Values, error) {
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("malformed query string: %v", err)
	}
	return v, nil
}

// parseDevicesQuery reads after and limit (0: the store's default).
func parseDevicesQuery(v url.Values) (after string, limit int, err error) {
	for _, name := range []string{"after", "limit"} {
		if len(v[name]) > 1 {
			return "", 0, fmt.Errorf("%s given %d times", name, len(v[name]))
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return "", 0, fmt.Errorf("limit %q: want a whole number >= 1", s)
		}
		limit = min(n, store.MaxDevicePage)
	}
	if after = v.Get("after"); after != "" && !reading.ValidID(after) {
		return "", 0, fmt.Errorf("after %q: not a device id", after)
	}
	return after, limit, nil
}

// malformed counts data found in the store and left out of an answer (kind
// is one of skipKinds) and logs it at most once a minute, with example
// (never more than a short excerpt of stored data).
func (s *server) malformed(kind string, n int, example string) {
	s.opt.Skips.add(kind, n)
	example = truncateLog(example, 160)
	s.badMu.Lock()
	suppressed, ok := s.badLog.Fail(s.opt.Now())
	s.badMu.Unlock()
	if ok {
		s.opt.Logger.Warn("malformed data in Redis left out of an answer (written by something other than the ingest)",
			"kind", kind, "count", n, "example", example, "since_last_log", suppressed)
	}
}

// history answers GET /api/devices/{id}/readings with a device's history,
// oldest first: {"device":"id","readings":[...]}. A device that the store does
// not know has an empty history (200, not 404): it may simply not have
// sent anything yet, or its history may have expired.
func (s *server) history(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !reading.ValidID(id) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid device id %q", id))
		return
	}
	v, err := parseQuery(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q, err := parseHistoryQuery(v)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opt.StoreTimeout)
	defer cancel()
	// Each stored reading is decoded and encoded again: what a stream holds
	// is only as trustworthy as whatever could write to it. Page by page,
	// so that a long history never sits in memory whole.
	var b []byte
	started := false
	skipped, example := 0, ""
	begin := func() {
		started = true
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		b = append(b[:0], `{"device":`...)
		b = strconv.AppendQuote(b, id)
		b = append(b, `,"readings":[`...)
	}
	written := 0
	err = s.opt.Store.HistoryPages(ctx, id, q, func(page [][]byte) error {
		if !started {
			begin()
		} else {
			b = b[:0]
		}
		for _, raw := range page {
			rd, err := reading.Decode(raw)
			if err != nil || rd.Device != id {
				if skipped == 0 {
					example = id + " " + strconv.Quote(string(raw[:min(len(raw), 64)]))
				}
				skipped++
				continue
			}
			if written > 0 {
				b = append(b, ',')
			}
			b = rd.AppendJSON(b)
			written++
		}
		if len(b) == 0 {
			return nil
		}
		_, err := w.Write(b)
		return err
	})
	if skipped > 0 {
		s.malformed("history", skipped, example)
	}
	switch {
	case err != nil && !started:
		s.storeError(w, r, err)
	case err != nil:
		// Half an answer must not look whole: cut the connection.
		s.warnFailure("history: aborted mid-answer", "device", id, "err", err)
		panic(http.ErrAbortHandler)
	case !started: // no readings
		begin()
		w.Write(append(b, "]}\n"...))
	default:
		w.Write([]byte("]}\n"))
	}
}

// boot is one entry of GET /api/devices/{id}/boots.
type boot struct {
	ID       string    `json:"boot"`
	FirstSeq uint64    `json:"first_seq"`
	Time     time.Time `json:"ts,omitzero"`
	Recorded time.Time `json:"recorded"`
}

// boots answers GET /api/devices/{id}/boots with the device's recorded
// boots (the newest 2*store.MaxBoots at most; malformed entries left out),
// oldest first: {"device":"id","boots":[{"boot","first_seq","ts",
// "recorded"}]}. A gap in the seqs that ends just before a boot's first_seq
// is the agent's restart, not lost readings.
func (s *server) boots(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !reading.ValidID(id) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid device id %q", id))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opt.StoreTimeout)
	defer cancel()
	l, err := s.opt.Store.BootList(ctx, id)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if l.Skipped > 0 {
		s.malformed("boots", l.Skipped, l.SkippedExample)
	}
	out := struct {
		Device string `json:"device"`
		Boots  []boot `json:"boots"`
	}{Device: id, Boots: make([]boot, len(l.Boots))}
	for i, b := range l.Boots {
		out.Boots[i] = boot{ID: b.ID, FirstSeq: b.FirstSeq, Time: b.Time, Recorded: b.Recorded}
	}
	writeJSON(w, out)
}

// parseHistoryQuery reads limit, since and until. Other parameters are
// ignored.
func parseHistoryQuery(v url.Values) (store.Query, error) {
	var q store.Query
	for _, name := range []string{"limit", "since", "until"} {
		if len(v[name]) > 1 {
			return q, fmt.Errorf("%s given %d times", name, len(v[name]))
		}
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return q, fmt.Errorf("limit %q: want a whole number >= 1", s)
		}
		q.Limit = n
	}
	var err error
	if q.Since, err = parseTime("since", v.Get("since")); err != nil {
		return q, err
	}
	if q.Until, err = parseTime("until", v.Get("until")); err != nil {
		return q, err
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		return q, fmt.Errorf("until (%s) is before since (%s)", q.Until.Format(time.RFC3339Nano), q.Since.Format(time.RFC3339Nano))
	}
	return q, nil
}

// parseTime reads an RFC 3339 time or unix milliseconds; "" is the zero time.
func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 || ms > 253402300799999 { // 9999-12-31T23:59:59.999Z
			return time.Time{}, fmt.Errorf("%s %q: unix milliseconds out of range", name, s)
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: want an RFC 3339 time (2006-01-02T15:04:05Z) or unix milliseconds", name, s)
	}
	if t.Before(time.Unix(0, 0)) {
		return time.Time{}, fmt.Errorf("%s %q: before 1970", name, s)
	}
	return t, nil
}

// storeError answers a failed Redis request with 503: the request may
// succeed once Redis is back.
func (s *server) storeError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client went away
	}
	s.warnFailure("redis request failed", "path", r.URL.Path, "err", err)
	writeError(w, http.StatusServiceUnavailable, "redis unavailable: "+err.Error())
}

// warnFailure logs a failed request at most once every 10 s, with the
// count of those left out: a burst of failing requests (Redis away, or a
// client holding many) must not flood the log.
func (s *server) warnFailure(msg string, args ...any) {
	s.badMu.Lock()
	n, ok := s.failLog.Fail(time.Now())
	s.badMu.Unlock()
	if ok {
		s.opt.Logger.Warn(msg, append(args, "similar_failures_left_out", n)...)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encode response: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(append(b, '\n'))
}

// writeError answers with status and {"error":msg}.
// maxErrorMessage bounds an error message in a response.
const maxErrorMessage = 512

func writeError(w http.ResponseWriter, status int, msg string) {
	// A message may quote what the client sent (a 100 KB parameter): it
	// goes back clipped.
	if len(msg) > maxErrorMessage {
		msg = clip(msg, maxErrorMessage) + "..."
	}
	b, _ := json.Marshal(map[string]string{"error": msg}) // a map of strings always encodes
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
