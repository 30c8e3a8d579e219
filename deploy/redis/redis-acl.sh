#!/bin/sh
# Writes Tributary's Redis users into a Redis ACL file (redis-server
# --aclfile FILE), one line per user, each with only the commands, keys and
# channels its job needs. The password is read from standard input (one
# line), never from the command line, and only its SHA-256 goes into the
# file. Adding a user that exists replaces its line: that is how a password
# is rotated. See README.md beside this file.
#
#   redis-acl.sh FILE device ID   < password   # an edge agent writing straight to Redis
#   redis-acl.sh FILE bridge NAME < password   # cmd/bridge
#   redis-acl.sh FILE cloud NAME  < password   # cmd/cloud (with --mqtt, the bridge inside it too)
#   redis-acl.sh FILE admin NAME  < password   # operators: everything (ACL LOAD, backups)
#   redis-acl.sh FILE remove NAME              # a user's line removed
#   redis-acl.sh FILE refresh                  # every device's rules rewritten as this script has them, passwords kept
#
# Redis then loads the file at start, or on ACL LOAD (by the admin user). The
# file always disables Redis's default user, so that no client gets in
# without a user name. Rules are written for Redis 7.0 and later (selectors,
# %R~ key permissions).
#
# TRIBUTARY_PREFIX (default tributary) is the key prefix, store.Options.Prefix.
set -eu

usage() {
  echo "usage: $0 FILE device|bridge|cloud|admin NAME < password" >&2
  echo "       $0 FILE remove NAME" >&2
  echo "       $0 FILE refresh" >&2
  exit 2
}
case $#:${2:-} in
  2:refresh) file=$1 role=refresh name=refresh ;;
  3:*) file=$1 role=$2 name=$3 ;;
  *) usage ;;
esac
p=${TRIBUTARY_PREFIX:-tributary}
set -f # the rules hold glob patterns

# A device's user name is its id (reading.ValidID): letters, digits, '.',
# '_' and '-', starting with a letter or digit, at most 64 bytes. Service
# users follow the same rule. None of these bytes is special in a Redis glob
# pattern, so an id can go into the key and channel patterns as it is.
case $name in
  '' | [._-]* | *[!A-Za-z0-9._-]*) echo "$0: user name $name: want letters, digits, '.', '_' and '-', starting with a letter or digit" >&2; exit 2 ;;
esac
if [ ${#name} -gt 64 ]; then
  echo "$0: user name $name: longer than 64 bytes" >&2; exit 2
fi
if [ "$name" = default ]; then
  echo "$0: the default user stays disabled; choose another name" >&2; exit 2
fi

# What every client needs to connect: go-redis sends HELLO 3 with AUTH, and
# PING for health checks. (go-redis also sends CLIENT SETINFO, which exists
# from Redis 7.2 on; it ignores the refusal, which ACL LOG lists.)
conn='+hello +auth +ping'

# The commands store.Ingest (ingest.lua) and store.RecordBoot (its boot
# script) run inside their scripts, plus HGET of store.LastSeq. Redis checks
# every command a script runs against the calling user, so these are what a
# script may do and also what the user may do directly, only ever on the
# keys its patterns allow. DEL, HINCRBY, HMGET, SETRANGE and STRLEN are for
# the bounded dedup window of ingest.lua. A command added to a script must
# be added here (internal/e2e TestRedisACL* fail otherwise).
# A device runs the scripts by their SHA-1 only (EVALSHA): no EVAL, no
# SCRIPT LOAD, so it can run only the scripts the cloud put in Redis's
# script cache (store.KeepScriptsLoaded), never Lua of its own (a script
# that never ends would hold the whole server).
ingest='+evalsha +time +type +hget +hmget +hset +hincrby +setbit +setrange +strlen +expire +del +xadd +xtrim +publish +xrevrange'
# The services may also run and load scripts: the bridge's seq counter runs
# by EVAL, and the cloud keeps the devices' scripts loaded.
scripts='+eval +script|load +script|exists'
# Shared keys an ingester touches: the device registry (ZADD of each device
# it stored readings of, to tributary:devices and tributary:device_ids, and
# nothing else on those keys) and the retention the cloud publishes (read
# with HGETALL, never written).
shared="(~$p:devices ~$p:device_ids -@all +zadd) (%R~$p:retention -@all +hgetall)"

# Commands to actuators (store/commands.go). A device reads its command
# stream tributary:commands:{ID} (XREAD, blocking too; XREVRANGE), which is
# outside its own keys and read only (%R~): only the cloud writes it. It
# reports its command events with events.lua (EVALSHA; TYPE DEL XADD PUBLISH
# on its own events stream and channel tributary:events:{ID}) and announces
# its actuators (SET tributary:{ID}:actuators).
commands='+xread +set'
# The bridges relay the outbox with a consumer group, and nothing else on it.
outbox="(~$p:command_outbox -@all +xreadgroup +xack +xautoclaim +xgroup|create)"

# The bridge also assigns seqs to foreign formats (store.NextSeqs: a script
# with EXISTS, HGET and SET, then INCRBY), appends refused messages to the
# dead-letter stream (XADD, write only), relays commands from the outbox
# and writes the devices' command events and actuators.
bridge="$ingest $scripts +exists +get +set +incrby ~$p:{*}:* &$p:live:{*} &$p:events:{*} $shared (%W~$p:deadletter -@all +xadd) $outbox"

# A device: its own keys (tributary:{ID}:*, whatever the store adds there),
# its own live and events channels, its command stream (read only), the
# registry's ZADD and the retention's HGETALL. Nothing else: no other
# device's keys or channels, no SUBSCRIBE, no KEYS, SCAN, FLUSH*, CONFIG,
# SCRIPT, FUNCTION, ACL, DEBUG or MODULE.
device_rules() { echo "$conn $ingest $commands ~$p:{$1}:* %R~$p:commands:{$1} &$p:live:{$1} &$p:events:{$1} $shared"; }

# A device's line is told apart from a service's by the device's own live
# channel.
is_device() {
  case "$1 " in
    *" &$p:live:{$2} "*) return 0 ;;
  esac
  return 1
}

umask 022
tmp=$file.tmp.$$
trap 'rm -f "$tmp"' EXIT

if [ "$role" = refresh ]; then
  [ -e "$file" ] || { echo "$0: $file: no such file" >&2; exit 1; }
  {
    echo 'user default reset off'
    while IFS= read -r l; do
      # shellcheck disable=SC2086 # split into words, no globbing (set -f)
      set -- $l
      [ "${1:-}" = user ] && [ "${2:-}" != default ] || continue
      n=$2
      if is_device "$l" "$n"; then
        h=
        for w; do case $w in '#'*) h=$w ;; esac; done
        echo "user $n reset on $h $(device_rules "$n")"
      else
        echo "$l"
      fi
    done < "$file"
  } > "$tmp"
  chmod 644 "$tmp"
  mv "$tmp" "$file"
  trap - EXIT
  exit 0
fi

case $role in
  device)
    rules=$(device_rules "$name") ;;
  bridge)
    rules="$conn $bridge" ;;
  cloud)
    # The dashboard's reads (registry, latest values, history, boots), the
    # live feed (PSUBSCRIBE to the one pattern tributary:live:*), the
    # retention it publishes and applies (HSET, TIME, XTRIM), the sweep of
    # silent devices (ZRANGE, ZADD, ZSCORE, ZREM; DEL in its script), the
    # sizes it checks before reading what a device could grow (HLEN, XLEN,
    # MEMORY USAGE), and
    # with --mqtt the bridge it runs inside. All of it under tributary:*.
    # Commands: store/command.lua (ZREMRANGEBYSCORE ZADD ZRANGE EXPIRE on
    # the ids in use tributary:command_ids:{ID}, which no device's user
    # may touch; XADD to a device's command stream and the outbox; PUBLISH
    # of the command's frame), the command log (the stream script), the
    # actuators (GETRANGE), PSUBSCRIBE to tributary:events:*.
    rules="$conn $bridge +zcount +zrange +zadd +zscore +zrem +zremrangebyscore +hgetall +hlen +xrange +xlen +memory|usage +getrange +psubscribe +punsubscribe ~$p:* &$p:live:* &$p:events:*" ;;
  admin)
    rules='~* &* +@all' ;;
  remove)
    rules= ;;
  *) usage ;;
esac

# A name keeps its role, so that adding a device never replaces the cloud's
# user (or the other way round).
lines_of() { [ ! -e "$file" ] || awk -v n="$1" '$1 == "user" && $2 == n' "$file"; }
others() { [ ! -e "$file" ] || awk -v n="$name" '!($1 == "user" && ($2 == n || $2 == "default"))' "$file"; }
old=$(lines_of "$name")
if [ -n "$old" ] && [ "$role" != remove ]; then
  was=service
  is_device "$old" "$name" && was=device
  is=service
  [ "$role" = device ] && is=device
  if [ "$was" != "$is" ]; then
    echo "$0: $name is already a $was user in $file; remove it first" >&2; exit 1
  fi
fi

line=
if [ "$role" != remove ]; then
  IFS= read -r pw || [ -n "${pw:-}" ] || { echo "$0: no password on standard input" >&2; exit 2; }
  if [ ${#pw} -lt 16 ]; then
    echo "$0: the password of $name is shorter than 16 characters" >&2; exit 2
  fi
  if command -v sha256sum >/dev/null; then
    hash=$(printf %s "$pw" | sha256sum | cut -d' ' -f1)
  else
    hash=$(printf %s "$pw" | openssl dgst -sha256 -r | cut -d' ' -f1)
  fi
  # reset first: a replaced line keeps nothing of the old one.
  line="user $name reset on #$hash $rules"
fi

{
  echo 'user default reset off'
  others
  [ -z "$line" ] || echo "$line"
} > "$tmp"
# Only hashes: the file may be readable by Redis's own user (uid 999 in the
# official image).
chmod 644 "$tmp"
mv "$tmp" "$file"
trap - EXIT
