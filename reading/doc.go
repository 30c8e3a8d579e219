// Package reading defines Tributary's wire format: one sensor reading, as it
// travels from an edge agent through Redis to the cloud and out to every
// dashboard.
//
// The package is vocabulary only. It imports nothing from periph, Redis or
// HTTP, so every component (and every third-party producer) can depend on it.
//
// # Wire format, version 1
//
// A reading is a JSON object:
//
//		{"v":1,"device":"greenhouse-1","sensor":"bme280","metric":"temperature",
//		 "value":21.37,"unit":"Cel","ts":"2026-11-26T23:01:13.123Z","seq":42}
//
//	  - v: format version. Optional on input (absent means 1); always written.
//	    A decoder rejects versions it does not know.
//	  - device: the device id, 1 to 64 characters from [A-Za-z0-9._-], starting
//	    with a letter or digit. It appears in Redis keys and MQTT topics, hence
//	    the restricted alphabet.
//	  - sensor: which sensor on the device produced it, same alphabet as device.
//	  - metric: what was measured (temperature, humidity, pressure, door, ...),
//	    1 to 64 characters from [a-z0-9_].
//	  - value: a finite number. Booleans (a door contact) are 0 or 1.
//	  - unit: a UCUM unit code, at most 16 characters: Cel, hPa, % (relative
//	    humidity too), lx, V, 1 (dimensionless), ... The empty string is not
//	    allowed; use "1". Package reading/unit lists the codes Tributary
//	    understands and converts between.
//	  - ts: when the value was sampled, RFC 3339 in UTC with exactly
//	    millisecond precision ("2006-01-02T15:04:05.000Z"). Decoding accepts
//	    any RFC 3339 time and normalises it to UTC milliseconds.
//	  - seq: the device's sequence number, >= 1. It grows by at least one with
//	    every reading a device produces, across sensors and across restarts;
//	    (device, seq) identifies a reading, and ingest is idempotent on it.
//
// Unknown fields are an error in version 1: a typo such as "vaule" must not
// silently lose the value. A producer that needs new fields bumps v.
//
// A frame on the cloud's WebSocket carries many readings; see [Frame].
package reading
