package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Scripts and who may run them. An ingester (an edge writing straight to
// Redis, the bridge) runs ingest.lua and the boot script by their SHA-1
// (EVALSHA). A device's Redis user (deploy/redis) is allowed EVALSHA and
// not EVAL or SCRIPT LOAD: it can run only the scripts a trusted user put
// in Redis's script cache, never Lua of its own (a loop that never ends
// would hold the whole server). The cloud keeps them there
// (KeepScriptsLoaded); Redis empties the cache when it restarts.

// deviceScripts are the scripts a device's user runs.
var deviceScripts = []*redis.Script{ingestScript, recordBootScript, eventsScript}

// ScriptsCheckInterval is how often KeepScriptsLoaded checks the cache by
// default.
const ScriptsCheckInterval = 5 * time.Second

// errNoScript explains a NOSCRIPT that the user cannot mend.
var errNoScript = errors.New("the script is not in Redis's script cache and this Redis user may neither load nor EVAL it " +
	"(a device's user, deploy/redis): the cloud loads it (store.KeepScriptsLoaded) within seconds of a Redis restart")

// LoadScripts puts the scripts ingesters run into Redis's script cache.
func (s *Store) LoadScripts(ctx context.Context) error {
	for _, sc := range deviceScripts {
		if err := sc.Load(ctx, s.rdb).Err(); err != nil {
			return fmt.Errorf("store: load scripts: %w", err)
		}
	}
	return nil
}

// KeepScriptsLoaded loads the ingesters' scripts, then checks every
// interval (default ScriptsCheckInterval) that Redis still has them and
// loads them again if not (after a restart or SCRIPT FLUSH), until ctx
// ends. onErr, if not nil, is told of each failed round; it returns nil
// when ctx ends.
func (s *Store) KeepScriptsLoaded(ctx context.Context, interval time.Duration, onErr func(error)) error {
	if interval <= 0 {
		interval = ScriptsCheckInterval
	}
	shas := make([]string, len(deviceScripts))
	for i, sc := range deviceScripts {
		shas[i] = sc.Hash()
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	loaded := false
	for {
		var err error
		if loaded {
			var have []bool
			if have, err = s.rdb.ScriptExists(ctx, shas...).Result(); err == nil {
				for _, ok := range have {
					loaded = loaded && ok
				}
			}
		}
		if err == nil && !loaded {
			if err = s.LoadScripts(ctx); err == nil {
				loaded = true
			}
		}
		if err != nil && ctx.Err() == nil && onErr != nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// isNoScript reports whether err is Redis not having a script.
func isNoScript(err error) bool { return err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") }

// isNoPerm reports whether err is an ACL refusal.
func isNoPerm(err error) bool { return err != nil && redis.HasErrorPrefix(err, "NOPERM") }

// mendNoScript is called after a NOSCRIPT from sc: it loads sc, and
// reports whether to retry by SHA (loaded) or with EVAL (this user may not
// load scripts), or an error if it may do neither.
func (s *Store) mendNoScript(ctx context.Context, sc *redis.Script) (eval bool, err error) {
	err = sc.Load(ctx, s.rdb).Err()
	if err == nil {
		return false, nil
	}
	if isNoPerm(err) {
		return true, nil
	}
	return false, err
}

// runScript runs sc by its SHA; on NOSCRIPT it loads it and tries again,
// or, for a user that may not load scripts, runs it with EVAL.
func (s *Store) runScript(ctx context.Context, sc *redis.Script, keys []string, args ...any) *redis.Cmd {
	cmd := sc.EvalSha(ctx, s.rdb, keys, args...)
	if !isNoScript(cmd.Err()) {
		return cmd
	}
	eval, err := s.mendNoScript(ctx, sc)
	switch {
	case err != nil:
		cmd.SetErr(err)
		return cmd
	case eval:
		cmd = sc.Eval(ctx, s.rdb, keys, args...)
		if isNoPerm(cmd.Err()) {
			cmd.SetErr(fmt.Errorf("%w (%v)", errNoScript, cmd.Err()))
		}
		return cmd
	}
	return sc.EvalSha(ctx, s.rdb, keys, args...)
}

// IngestScriptSHA is the SHA-1 by which ingesters run ingest.lua (EVALSHA).
func IngestScriptSHA() string { return ingestScript.Hash() }

// EventsScriptSHA is the SHA-1 by which reporters run events.lua (EVALSHA).
func EventsScriptSHA() string { return eventsScript.Hash() }
