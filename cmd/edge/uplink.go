package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/tributary-iot/tributary/agent"
	"github.com/tributary-iot/tributary/internal/cli"
	"github.com/tributary-iot/tributary/internal/secret"
	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/store"
)

// uplinkSettings are the resolved uplink: Redis when the MQTT broker's URL
// is empty.
type uplinkSettings struct {
	redis store.ClientOptions
	mqtt  agent.MQTTUplinkOptions
}

// resolveUplink merges the uplink flags (--redis..., --mqtt...) over the
// file's uplink, whose URL's scheme says which of the two it configures.
func resolveUplink(f *flags, file uplinkConfig, device string) (uplinkSettings, error) {
	fromFile := cli.Conn{URL: file.URL, Username: file.Username, CAFile: file.CAFile, CertFile: file.CertFile,
		KeyFile: file.KeyFile, PasswordFile: file.PasswordFile}
	var fileRedis, fileMQTT cli.Conn
	if mqttwire.IsURL(file.URL) {
		fileMQTT = fromFile
	} else {
		fileRedis = fromFile
	}
	var s uplinkSettings
	if f.redis.URL != "" && f.mqtt.URL != "" {
		return s, usageError{Err: errors.New("--redis and --mqtt: choose one uplink")}
	}
	if f.mqtt.URL != "" || (f.redis.URL == "" && fileMQTT.URL != "") {
		mq := overlay(f.mqtt, fileMQTT)
		if !mqttwire.IsURL(mq.URL) {
			return s, usageError{Err: fmt.Errorf("--mqtt %q: want an mqtt:// or mqtts:// URL", secret.RedactURL(mq.URL))}
		}
		if mq.Username != "" && mq.Username != device {
			return s, usageError{Err: fmt.Errorf("MQTT user name %q differs from the device id %q: the broker ACL (deploy/mosquitto/acl) lets a user publish only under its own name, and mosquitto acknowledges a refused publish as if it were taken, so every reading would vanish; use the device id as user name", mq.Username, device)}
		}
		if err := mq.Check(); err != nil {
			return s, usageError{Err: err}
		}
		if u, err := mqttwire.ParseURL(mq.URL); err == nil && !u.Secure && (mq.CAFile != "" || mq.CertFile != "" || mq.KeyFile != "") {
			return s, usageError{Err: fmt.Errorf("MQTT TLS files (--mqtt-ca, --mqtt-cert, --mqtt-key or the file's) need an mqtts:// URL, not %s", secret.RedactURL(mq.URL))}
		}
		b, err := mq.MQTT()
		s.mqtt = agent.MQTTUplinkOptions{Device: device, Broker: b}
		return s, err
	}
	rd := overlay(f.redis, fileRedis)
	rd.URL = cmp.Or(rd.URL, os.Getenv("REDIS_URL"), defaultRedisURL)
	if err := rd.Check(); err != nil {
		return s, usageError{Err: err}
	}
	var err error
	s.redis, err = rd.Redis()
	return s, err
}

// overlay is the flags' settings of a connection over the file's.
func overlay(flags, file cli.Conn) cli.Conn {
	return cli.Conn{
		Name:         flags.Name,
		URL:          cmp.Or(flags.URL, file.URL),
		Username:     cmp.Or(flags.Username, file.Username),
		CAFile:       cmp.Or(flags.CAFile, file.CAFile),
		CertFile:     cmp.Or(flags.CertFile, file.CertFile),
		KeyFile:      cmp.Or(flags.KeyFile, file.KeyFile),
		PasswordFile: cmp.Or(flags.PasswordFile, file.PasswordFile),
	}
}

// openedUplink is the chosen uplink, connecting in the background.
type openedUplink struct {
	up       agent.Uplink
	describe string
	// runCommands, if not nil, reads the device's commands until ctx ends
	// (Redis: a blocking read on a connection of its own; over MQTT the
	// uplink's subscription does it).
	runCommands func(ctx context.Context) error
	// sendEvents sends command events upstream (the outbox's sender).
	sendEvents agent.SendEvents
	close      func() // after the agent has stopped
}

// openUplink connects (in the background) to the chosen uplink; with act,
// it also takes the device's commands to act's controller and announces its
// actuators.
func openUplink(s settings, boot string, act *actuation, log *slog.Logger) (openedUplink, error) {
	if s.up.mqtt.Broker.URL != "" {
		o := s.up.mqtt
		o.Boot, o.Logger = boot, log
		if act != nil {
			o.Commands, o.CommandsUp, o.Actuators, o.CommandStats = act.submit, act.ctrl.SetUplink, act.descriptions(), &act.stats
		}
		u, err := agent.NewMQTTUplink(o)
		if err != nil {
			return openedUplink{}, err
		}
		return openedUplink{up: u, describe: "mqtt " + secret.RedactURL(o.Broker.URL), sendEvents: u.SendEvents, close: func() { u.Close() }}, nil
	}
	rdb, err := store.NewClient(s.up.redis)
	if err != nil {
		return openedUplink{}, err
	}
	st := store.New(rdb, store.Options{})
	ou := openedUplink{up: agent.NewRedisUplink(st), describe: "redis " + store.RedactURL(s.up.redis.URL),
		sendEvents: agent.RedisEventSender(st, s.device), close: func() { rdb.Close() }}
	if act != nil {
		ou.runCommands = func(ctx context.Context) error {
			cmdc, err := store.NewClient(s.up.redis) // a blocking read holds its connection
			if err != nil {
				return err
			}
			return agent.RunRedisCommands(ctx, agent.RedisCommandsOptions{Client: cmdc, Device: s.device, StateDir: s.stateDir,
				Handle: act.submit, Uplink: act.ctrl.SetUplink, Actuators: act.descriptions(), Logger: log.With("component", "commands"), Stats: &act.stats})
		}
	}
	return ou, nil
}
