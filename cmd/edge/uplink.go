package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/tributary-iot/tributary/agent"
	"github.com/tributary-iot/tributary/internal/secret"
	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/store"
)

// uplinkFlags choose where readings go: straight to Redis (--redis) or to
// an MQTT broker for the bridge (--mqtt).
type uplinkFlags struct {
	mqtt, mqttUser, mqttPwf, mqttCA, mqttCert, mqttKey string
}

func (u *uplinkFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&u.mqtt, "mqtt", "", "publish to the MQTT broker at `URL` (mqtt:// or mqtts://) instead of Redis; the bridge stores the readings")
	fs.StringVar(&u.mqttUser, "mqtt-username", "", "MQTT `user` name: the device id (the default), as the broker ACL requires")
	fs.StringVar(&u.mqttPwf, "mqtt-password-file", "", "`file` holding the MQTT password")
	fs.StringVar(&u.mqttCA, "mqtt-ca", "", "PEM `file` of CAs to verify an mqtts:// broker with")
	fs.StringVar(&u.mqttCert, "mqtt-cert", "", "client certificate PEM `file` for mqtts://")
	fs.StringVar(&u.mqttKey, "mqtt-key", "", "client key PEM `file` for mqtts://")
}

// uplinkSettings are the resolved uplink: Redis when mqtt is empty.
type uplinkSettings struct {
	redis store.ClientOptions
	mqtt  agent.MQTTUplinkOptions // Broker.URL empty: Redis
}

// resolveMQTT fills s.mqtt from the flags and the file. A file uplink URL
// with an mqtt:// or mqtts:// scheme selects MQTT too.
func resolveMQTT(f *flags, file fileConfig, device string) (agent.MQTTUplinkOptions, error) {
	o := agent.MQTTUplinkOptions{Device: device, Broker: mqttwire.Broker{URL: f.up.mqtt}}
	b := &o.Broker
	fileURL := file.Uplink.URL
	if b.URL == "" && f.redis == "" && isMQTT(fileURL) {
		b.URL = fileURL
	}
	if b.URL == "" {
		return o, nil
	}
	if f.redis != "" {
		return o, usageError{errors.New("--redis and --mqtt: choose one uplink")}
	}
	if !isMQTT(b.URL) {
		return o, usageError{fmt.Errorf("--mqtt %q: want an mqtt:// or mqtts:// URL", redactAny(b.URL))}
	}
	b.Username = cmp.Or(f.up.mqttUser, file.Uplink.Username)
	if b.Username != "" && b.Username != device {
		return o, usageError{fmt.Errorf("MQTT user name %q differs from the device id %q: the broker ACL (deploy/mosquitto/acl) lets a user publish only under its own name, and mosquitto acknowledges a refused publish as if it were taken, so every reading would vanish; use the device id as user name", b.Username, device)}
	}
	b.CAFile = cmp.Or(f.up.mqttCA, fileIf(isMQTT(fileURL), file.Uplink.CAFile))
	b.CertFile = cmp.Or(f.up.mqttCert, fileIf(isMQTT(fileURL), file.Uplink.CertFile))
	b.KeyFile = cmp.Or(f.up.mqttKey, fileIf(isMQTT(fileURL), file.Uplink.KeyFile))
	if (b.CertFile == "") != (b.KeyFile == "") {
		return o, usageError{errors.New("--mqtt-cert and --mqtt-key go together")}
	}
	if pwf := cmp.Or(f.up.mqttPwf, fileIf(isMQTT(fileURL), file.Uplink.PasswordFile)); pwf != "" {
		var err error
		if b.Password, err = secret.ReadFile(pwf); err != nil {
			return o, fmt.Errorf("mqtt password: %w", err)
		}
	}
	return o, nil
}

func fileIf(ok bool, s string) string {
	if ok {
		return s
	}
	return ""
}

// isMQTT reports whether raw names an MQTT broker (by its scheme).
func isMQTT(raw string) bool { return mqttwire.IsURL(raw) }

// redactAny hides the password of any URL.
func redactAny(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(unparsable URL)"
}

// openUplink connects (in the background) to the chosen uplink. close
// releases it after the agent has stopped.
func openUplink(s settings, boot string, log *slog.Logger) (up agent.Uplink, describe string, close func(), err error) {
	if s.up.mqtt.Broker.URL != "" {
		o := s.up.mqtt
		o.Boot, o.Logger = boot, log
		u, err := agent.NewMQTTUplink(o)
		if err != nil {
			return nil, "", nil, err
		}
		return u, "mqtt " + redactAny(o.Broker.URL), func() { u.Close() }, nil
	}
	rdb, err := store.NewClient(s.up.redis)
	if err != nil {
		return nil, "", nil, err
	}
	return agent.NewRedisUplink(store.New(rdb, store.Options{})), "redis " + store.RedactURL(s.up.redis.URL), func() { rdb.Close() }, nil
}
