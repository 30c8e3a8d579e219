#!/bin/sh
# Creates ./secrets with random passwords, Redis's users and a self-signed
# TLS certificate for Traefik and Mosquitto, once. Replace the certificate
# with a real one for production.
#
#   ./make-secrets.sh                      # once (again: refreshes the service users' Redis rights)
#   ./make-secrets.sh --device ID          # an MQTT password for agent ID (printed once)
#   ./make-secrets.sh --redis-device ID    # a Redis user for agent ID writing straight to Redis (password printed once)
#
# The broker knows one user per bridge replica (tributary-bridge-1 and -2,
# as in compose.yaml and mosquitto/acl) and one per device, whose user name
# is its device id; the broker makes each user name its client id.
set -eu
cd "$(dirname "$0")"
umask 077
mkdir -p secrets/tls secrets/mosquitto secrets/redis
# Redis's ACL file holds only SHA-256 hashes of the passwords; Redis runs
# as uid 999 in its container and must read it.
chmod 755 secrets/redis
redis_reload='docker compose exec redis sh -c '"'"'REDISCLI_AUTH="$(cat /run/secrets/redis_admin_password)" redis-cli --user tributary-admin ACL LOAD'"'"

if [ "${1:-}" = "--redis-device" ]; then
  id=${2:?usage: $0 --redis-device ID}
  pw=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
  printf '%s\n' "$pw" | redis/redis-acl.sh secrets/redis/users.acl device "$id"
  echo "Redis password of device $id (user name: $id; put it in the agent's redis password file; it is not stored here):"
  echo "$pw"
  echo "then: $redis_reload"
  exit 0
fi

# mosquitto_passwd from the host, else from the broker's image.
passwd_tool() {
  if command -v mosquitto_passwd >/dev/null; then
    mosquitto_passwd "$@"
  else
    docker run --rm -v "$(pwd)/secrets/mosquitto:/p" eclipse-mosquitto:2.0 mosquitto_passwd "$@"
  fi
}
passwd_file() { command -v mosquitto_passwd >/dev/null && echo secrets/mosquitto/passwd || echo /p/passwd; }

if [ "${1:-}" = "--device" ]; then
  id=${2:?usage: $0 --device ID}
  case $id in
    tributary-bridge*) echo "$id: device ids starting with tributary-bridge are the bridges' user names" >&2; exit 2 ;;
  esac
  pw=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
  passwd_tool -b "$(passwd_file)" "$id" "$pw"
  chown 1883:1883 secrets/mosquitto/passwd 2>/dev/null || chmod 644 secrets/mosquitto/passwd
  echo "MQTT password of device $id (put it in the agent's mqtt password file; it is not stored here):"
  echo "$pw"
  echo "then: docker compose kill -s HUP mosquitto"
  exit 0
fi

for f in redis_admin_password redis_cloud_password redis_bridge_password dashboard_password grafana_password mqtt_bridge_1_password mqtt_bridge_2_password; do
  [ -s "secrets/$f" ] || head -c 24 /dev/urandom | base64 | tr -d '/+=' > "secrets/$f"
done
# Redis's users (redis/README.md): the admin, the cloud (with the bridge
# inside it), a standalone bridge. Devices are added with --redis-device.
for role in admin cloud bridge; do
  redis/redis-acl.sh secrets/redis/users.acl "$role" "tributary-$role" < "secrets/redis_${role}_password"
done
# Devices keep their passwords and get the rules of this version.
redis/redis-acl.sh secrets/redis/users.acl refresh
# A broker user per bridge replica (compose.yaml's cloud and cloud-2),
# added to the password file if missing.
[ -e secrets/mosquitto/passwd ] || : > secrets/mosquitto/passwd
for n in 1 2; do
  if ! grep -q "^tributary-bridge-$n:" secrets/mosquitto/passwd; then
    passwd_tool -b "$(passwd_file)" "tributary-bridge-$n" "$(cat "secrets/mqtt_bridge_${n}_password")"
  fi
done
if [ ! -s secrets/tls/cert.pem ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 825 -nodes \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout secrets/tls/key.pem -out secrets/tls/cert.pem
fi
# The broker gets its own copy of the certificate; in its container it runs
# as uid 1883 (eclipse-mosquitto's user), which must read its files.
cp secrets/tls/cert.pem secrets/tls/key.pem secrets/mosquitto/
if ! chown 1883:1883 secrets/mosquitto secrets/mosquitto/* 2>/dev/null; then
  chmod 755 secrets/mosquitto && chmod 644 secrets/mosquitto/*
  echo "note: not root, so secrets/mosquitto/ is world-readable for the broker's container; run as root to chown it to uid 1883 instead" >&2
fi
echo "secrets in $(pwd)/secrets; dashboard user: field, password: secrets/dashboard_password"
echo "Redis users in secrets/redis/users.acl; if Redis runs already: $redis_reload"
