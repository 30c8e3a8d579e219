package main

import (
	"cmp"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/tributary-iot/tributary/agent"
	"github.com/tributary-iot/tributary/internal/secret"
	"github.com/tributary-iot/tributary/internal/tlsfiles"
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
	mqtt  agent.MQTTOptions // URL empty: Redis
}

// resolveMQTT fills s.mqtt from the flags and the file. A file uplink URL
// with an mqtt:// or mqtts:// scheme selects MQTT too.
func resolveMQTT(f *flags, file fileConfig, device string) (agent.MQTTOptions, error) {
	o := agent.MQTTOptions{Device: device, URL: f.up.mqtt}
	fileURL := file.Uplink.URL
	if o.URL == "" && f.redis == "" && isMQTT(fileURL) {
		o.URL = fileURL
	}
	if o.URL == "" {
		return o, nil
	}
	if f.redis != "" {
		return o, usageError{errors.New("--redis and --mqtt: choose one uplink")}
	}
	if !isMQTT(o.URL) {
		return o, usageError{fmt.Errorf("--mqtt %q: want an mqtt:// or mqtts:// URL", redactAny(o.URL))}
	}
	o.Username = cmp.Or(f.up.mqttUser, file.Uplink.Username)
	if o.Username != "" && o.Username != device {
		return o, usageError{fmt.Errorf("MQTT user name %q differs from the device id %q: the broker ACL (deploy/mosquitto/acl) lets a user publish only under its own name, and mosquitto acknowledges a refused publish as if it were taken, so every reading would vanish; use the device id as user name", o.Username, device)}
	}
	ca := cmp.Or(f.up.mqttCA, fileIf(isMQTT(fileURL), file.Uplink.CAFile))
	cert := cmp.Or(f.up.mqttCert, fileIf(isMQTT(fileURL), file.Uplink.CertFile))
	key := cmp.Or(f.up.mqttKey, fileIf(isMQTT(fileURL), file.Uplink.KeyFile))
	if (cert == "") != (key == "") {
		return o, usageError{errors.New("--mqtt-cert and --mqtt-key go together")}
	}
	if ca != "" || cert != "" {
		cfg, err := tlsConfig(ca, cert, key)
		if err != nil {
			return o, err
		}
		o.TLS = cfg
	}
	if pwf := cmp.Or(f.up.mqttPwf, fileIf(isMQTT(fileURL), file.Uplink.PasswordFile)); pwf != "" {
		var err error
		if o.Password, err = secret.ReadFile(pwf); err != nil {
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

func isMQTT(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "mqtt" || u.Scheme == "mqtts")
}

// redactAny hides the password of any URL.
func redactAny(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return "(unparsable URL)"
}

// tlsConfig loads a CA bundle and an optional client certificate.
func tlsConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if err := tlsfiles.Apply(cfg, caFile, certFile, keyFile); err != nil {
		return nil, fmt.Errorf("mqtt %w", err)
	}
	return cfg, nil
}

// openUplink connects (in the background) to the chosen uplink. close
// releases it after the agent has stopped.
func openUplink(s settings, boot string, log *slog.Logger) (up agent.Uplink, describe string, close func(), err error) {
	if s.up.mqtt.URL != "" {
		o := s.up.mqtt
		o.Boot, o.Logger = boot, log
		u, err := agent.NewMQTTUplink(o)
		if err != nil {
			return nil, "", nil, err
		}
		return u, "mqtt " + redactAny(o.URL), func() { u.Close() }, nil
	}
	rdb, err := store.NewClient(s.up.redis)
	if err != nil {
		return nil, "", nil, err
	}
	return agent.NewRedisUplink(store.New(rdb, store.Options{})), "redis " + store.RedactURL(s.up.redis.URL), func() { rdb.Close() }, nil
}
