package bridge

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/reading/unit"
)

// senmlRelative is the bound below which a SenML time is relative to now
// (RFC 8428 section 4.5.3: 2^28 seconds).
const senmlRelative = 1 << 28

// senmlVersion is the highest SenML version (bver) understood.
const senmlVersion = 10

// senmlRecord holds the fields of one record that the bridge reads; each
// is a pointer, so that absent and zero differ.
type senmlRecord struct {
	BN   *string  `json:"bn"`
	BT   *float64 `json:"bt"`
	BU   *string  `json:"bu"`
	BV   *float64 `json:"bv"`
	BVer *int     `json:"bver"`
	N    *string  `json:"n"`
	U    *string  `json:"u"`
	V    *float64 `json:"v"`
	VS   *string  `json:"vs"`
	VB   *bool    `json:"vb"`
	T    *float64 `json:"t"`
}

// decodeSenML resolves a SenML pack (RFC 8428, JSON) into readings.
func (m *mapper) decodeSenML(device string, payload []byte, arrival time.Time) (decoded, error) {
	var raws []json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&raws); err != nil {
		return decoded{}, fmt.Errorf("%w: SenML: not a JSON array of records: %v", errMalformed, err)
	}
	if dec.More() {
		return decoded{}, fmt.Errorf("%w: SenML: trailing data after the array", errMalformed)
	}
	if len(raws) == 0 {
		return decoded{}, fmt.Errorf("%w: SenML: empty pack", errMalformed)
	}
	if len(raws) > reading.MaxBatch {
		// As a native batch: a record may be 8 bytes, so a pack of
		// MaxPayload would otherwise make 128,000 readings.
		return decoded{}, fmt.Errorf("%w: SenML: pack of %d records, limit %d", errTooLarge, len(raws), reading.MaxBatch)
	}
	var (
		d        decoded
		bn, bu   string
		bt, bv   float64
		unitErrs []string
	)
	for i, raw := range raws {
		// Check every key: one ending in '_' must be understood (section
		// 4.4), and none here is.
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(raw, &keys); err != nil {
			return decoded{}, fmt.Errorf("%w: SenML record %d: not an object: %v", errMalformed, i, err)
		}
		for k := range keys {
			if strings.HasSuffix(k, "_") {
				return decoded{}, fmt.Errorf("%w: SenML record %d: must-understand field %q", errInvalid, i, k)
			}
		}
		var r senmlRecord
		if err := json.Unmarshal(raw, &r); err != nil {
			return decoded{}, fmt.Errorf("%w: SenML record %d: %v", errMalformed, i, err)
		}
		if r.BVer != nil && *r.BVer > senmlVersion {
			return decoded{}, fmt.Errorf("%w: SenML record %d: version %d (this bridge reads up to %d)", errInvalid, i, *r.BVer, senmlVersion)
		}
		if r.BN != nil {
			bn = *r.BN
		}
		if r.BT != nil {
			bt = *r.BT
		}
		if r.BU != nil {
			bu = *r.BU
		}
		if r.BV != nil {
			bv = *r.BV
		}
		n := ""
		if r.N != nil {
			n = *r.N
		}
		name := bn + n
		if name == "" {
			d.ignored++ // a record without a name says nothing usable
			continue
		}
		from := bu // the record's unit
		if r.U != nil {
			from = *r.U
		}
		key, ok := m.senmlKey(name, n, from)
		if !ok {
			d.ignored++
			continue
		}
		if m.ignore[key] {
			continue
		}
		f := m.Fields[key]
		var (
			v   float64
			err error
		)
		switch {
		case r.V != nil:
			v, ok, err = f.numberValue(bv+*r.V, from)
		case r.VB != nil:
			v = f.boolValue(*r.VB)
		case r.VS != nil:
			v, ok, err = f.stringValue(*r.VS, from)
		default: // data, sums and records without a value are not readings
			ok = false
		}
		var ue *unitError
		switch {
		case errors.As(err, &ue):
			unitErrs = append(unitErrs, fmt.Sprintf("record %d (%s): %v", i, name, ue))
			continue
		case err != nil:
			return decoded{}, fmt.Errorf("SenML record %d (%s): %w", i, name, err)
		case !ok:
			d.ignored++
			continue
		}
		// The mapping's unit, or else the record's own, or else "1".
		stored := f.Unit
		if stored == "" {
			stored, _ = unit.Normalize(cmp.Or(from, "1"))
		}
		t := bt
		if r.T != nil {
			t += *r.T
		}
		at, terr := senmlTime(t, arrival)
		if terr != nil {
			return decoded{}, fmt.Errorf("%w: SenML record %d (%s): %v", errInvalid, i, name, terr)
		}
		d.readings = append(d.readings, m.reading(device, f, v, stored, at))
	}
	if len(unitErrs) > 0 {
		return decoded{}, fmt.Errorf("%w: SenML: %s", errUnit, joinUnitErrors(unitErrs))
	}
	return d, nil
}

// senmlKey finds the entry of Fields or Ignore that a record of resolved
// name (bn+n), own name n and unit u (as the record states it: u, else bu)
// takes, trying in order "name@u", "n@u", "name", "n" and "@u" ('@' is not allowed in SenML names,
// RFC 8428 section 4.5.1). So a pack whose records share a name and
// differ by unit (RFC 8428 section 5.1.3: %RH, lat, lon) maps each
// record by its own unit.
func (m *mapper) senmlKey(name, n, u string) (string, bool) {
	var keys [5]string
	k := keys[:0]
	if u != "" {
		k = append(k, name+"@"+u)
		if n != "" && n != name {
			k = append(k, n+"@"+u)
		}
	}
	k = append(k, name)
	if n != "" && n != name {
		k = append(k, n)
	}
	if u != "" {
		k = append(k, "@"+u)
	}
	for _, key := range k {
		if _, ok := m.Fields[key]; ok {
			return key, true
		}
		if m.ignore[key] {
			return key, true
		}
	}
	return "", false
}

// Bounds of SenML times (seconds): absolute ones up to maxSenMLTime (the
// year 5138), relative ones back to minSenMLRelative (about 31 years).
const (
	maxSenMLTime     = 1e11
	minSenMLRelative = -1e9
)

// senmlTime resolves a SenML time (seconds): 0 is now, below 2^28 relative
// to now, else absolute.
func senmlTime(t float64, now time.Time) (time.Time, error) {
	if math.IsNaN(t) || math.IsInf(t, 0) || t > maxSenMLTime || t < minSenMLRelative {
		return time.Time{}, fmt.Errorf("time %v out of range", t)
	}
	if t < senmlRelative {
		return now.Add(time.Duration(t * float64(time.Second))), nil
	}
	sec, frac := math.Modf(t)
	return time.Unix(int64(sec), fracNanos(frac)), nil
}

// fracNanos turns the fraction of a second of a float time into
// nanoseconds, rounded to the microsecond: a float64 of about 1.7e9
// seconds holds its fraction to within a few tenths of a microsecond, so
// 1680962879.62 is read as .620 s, not .619999980.
func fracNanos(frac float64) int64 { return int64(math.Round(frac*1e6)) * 1e3 }
