package mqttwire

import (
	"strings"
	"testing"
)

func TestTopics(t *testing.T) {
	if got := ReadingsTopic("pi-1"); got != "tributary/pi-1/readings" {
		t.Errorf("ReadingsTopic: %s", got)
	}
	if got := StatusTopic("pi-1"); got != "tributary/pi-1/status" {
		t.Errorf("StatusTopic: %s", got)
	}
	if got := EdgeClientID("pi-1"); got != "pi-1" {
		t.Errorf("EdgeClientID: %s", got)
	}
	if got := BridgeClientID("", "host-a"); got != "tributary-bridge-host-a" {
		t.Errorf("BridgeClientID: %s", got)
	}
	if got := BridgeClientID("g1", ""); got != "tributary-bridge-g1-unknown" {
		t.Errorf("BridgeClientID in a group, without a host name: %s", got)
	}
	for _, tc := range []struct {
		user, given, fallback, want, err string
	}{
		{"tributary-bridge-1", "", "tributary-bridge-host", "tributary-bridge-1", ""},
		{"tributary-bridge-1", "tributary-bridge-1", "x", "tributary-bridge-1", ""},
		{"pi-1", "", "", "pi-1", ""},
		{"pi-1", "tributary-bridge-1", "", "", `client id "tributary-bridge-1" differs from the user name "pi-1"`},
		{"", "bridge-a", "tributary-bridge-host", "bridge-a", ""},
		{"", "", "tributary-bridge-host", "tributary-bridge-host", ""},
	} {
		got, err := ClientID(tc.user, tc.given, tc.fallback)
		if got != tc.want || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("ClientID(%q, %q, %q) = %q, %v; want %q, error %q", tc.user, tc.given, tc.fallback, got, err, tc.want, tc.err)
		}
	}
	if got := SharedFilter("g", ReadingsFilter); got != "$share/g/tributary/+/readings" {
		t.Errorf("SharedFilter: %s", got)
	}
	for _, tc := range []struct {
		topic, device, kind string
		ok                  bool
	}{
		{"tributary/pi-1/readings", "pi-1", KindReadings, true},
		{"tributary/pi-1/status", "pi-1", KindStatus, true},
		{"tributary/pi-1/other", "", "", false},
		{"tributary/pi 1/readings", "", "", false},
		{"tributary/-pi/readings", "", "", false},
		{"tributary//readings", "", "", false},
		{"tributary/pi-1/readings/x", "", "", false},
		{"other/pi-1/readings", "", "", false},
		{"tributary/pi-1", "", "", false},
	} {
		d, k, ok := ParseTopic(tc.topic)
		if d != tc.device || k != tc.kind || ok != tc.ok {
			t.Errorf("ParseTopic(%q) = %q, %q, %v; want %q, %q, %v", tc.topic, d, k, ok, tc.device, tc.kind, tc.ok)
		}
	}
}
