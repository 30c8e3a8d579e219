#!/bin/sh
# Creates ./secrets with random passwords and a self-signed TLS certificate
# for Traefik, once. Replace the certificate with a real one for production.
set -eu
cd "$(dirname "$0")"
umask 077
mkdir -p secrets/tls
for f in redis_password dashboard_password grafana_password; do
  [ -s "secrets/$f" ] || head -c 24 /dev/urandom | base64 | tr -d '/+=' > "secrets/$f"
done
if [ ! -s secrets/tls/cert.pem ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 825 -nodes \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout secrets/tls/key.pem -out secrets/tls/cert.pem
fi
echo "secrets in $(pwd)/secrets; dashboard user: field, password: secrets/dashboard_password"
