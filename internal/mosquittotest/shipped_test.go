package mosquittotest

import (
	"slices"
	"strings"
	"testing"
)

// The shipped config's broker settings come over; its listeners, files and
// logging do not.
func TestShippedSettings(t *testing.T) {
	for _, f := range []string{"../../deploy/mosquitto/mosquitto.conf", "../../deploy/mosquitto/compose.conf"} {
		lines, err := shippedSettings(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"use_username_as_clientid true", "max_inflight_messages 100", "persistent_client_expiration 14d"} {
			if !slices.Contains(lines, want) {
				t.Errorf("%s: %q not carried over: %q", f, want, lines)
			}
		}
		for _, l := range lines {
			if name, _, _ := strings.Cut(l, " "); ownedSettings[name] {
				t.Errorf("%s: owned setting carried over: %q", f, l)
			}
		}
	}
	if _, err := shippedSettings("/nonexistent.conf"); err == nil {
		t.Error("a missing config file: no error")
	}
}
