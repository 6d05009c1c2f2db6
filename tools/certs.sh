#!/usr/bin/env bash
# A development certificate authority and a server certificate for localhost / 127.0.0.1, signed
# by it, for nginx's TLS listener (TLS=1 make up). Never for production: see docs/operations.md.
# Usage: tools/certs.sh            (keeps existing files; FORCE=1 makes a new CA and certificate)
# Env: CERTS_DIR ($RUN_DIR/certs), FORCE (unset).
# Writes: ca.pem, ca-key.pem, server.pem (leaf then CA), server-key.pem; keys are 0600.
set -euo pipefail
COMPONENT=certs
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

CERTS_DIR="${CERTS_DIR:-$RUN_DIR/certs}"
CA_DAYS=3650
# Browsers refuse leaf certificates valid for more than 825 days (398 for public CAs).
SERVER_DAYS=825

CA="$CERTS_DIR/ca.pem"
CA_KEY="$CERTS_DIR/ca-key.pem"
SERVER="$CERTS_DIR/server.pem"
SERVER_KEY="$CERTS_DIR/server-key.pem"

new_key() { (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null); }

make_ca() {
  info "creating a development CA in $CERTS_DIR"
  new_key "$CA_KEY"
  openssl req -x509 -new -key "$CA_KEY" -sha256 -days "$CA_DAYS" \
    -subj "/O=postbox development/CN=postbox development CA $(hostname -s 2>/dev/null || echo local)" \
    -addext 'basicConstraints=critical,CA:TRUE,pathlen:0' \
    -addext 'keyUsage=critical,keyCertSign,cRLSign' \
    -addext 'subjectKeyIdentifier=hash' -out "$CA" ||
    die "openssl could not create the CA certificate"
}

make_server() {
  local csr ext leaf
  csr="$CERTS_DIR/server.csr" ext="$CERTS_DIR/server.ext" leaf="$CERTS_DIR/server-leaf.pem"
  info "issuing a server certificate for localhost and 127.0.0.1"
  new_key "$SERVER_KEY"
  openssl req -new -key "$SERVER_KEY" -subj '/O=postbox development/CN=localhost' -out "$csr" ||
    die "openssl could not create the certificate request"
  cat >"$ext" <<'EXT'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
authorityKeyIdentifier = keyid
subjectKeyIdentifier = hash
EXT
  openssl x509 -req -in "$csr" -CA "$CA" -CAkey "$CA_KEY" -CAcreateserial -CAserial "$CERTS_DIR/ca.srl" \
    -sha256 -days "$SERVER_DAYS" -extfile "$ext" -out "$leaf" 2>/dev/null ||
    die "openssl could not sign the server certificate"
  # The chain nginx sends: leaf first, then the CA, so clients that only trust the CA verify it.
  cat "$leaf" "$CA" >"$SERVER"
  rm -f "$csr" "$ext" "$leaf"
}

# True when the file exists and stays valid for at least another day.
valid() { [[ -s "$1" ]] && openssl x509 -in "$1" -noout -checkend 86400 >/dev/null 2>&1; }

trust_help() {
  cat <<HELP

Trust the development CA ($CA) where you connect from:
  Node, the postbox CLI: NODE_EXTRA_CA_CERTS=$CA
  curl / websocat:       curl --cacert $CA https://localhost:${TLS_PORT:-8443}/healthz
  Debian / Ubuntu:       sudo cp $CA /usr/local/share/ca-certificates/postbox-dev-ca.crt && sudo update-ca-certificates
  macOS:                 sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain $CA
  Firefox:               Settings > Privacy & Security > Certificates > View Certificates > Authorities > Import
Its key ($CA_KEY) can sign certificates for any name: keep it on this machine, never trust it
anywhere else, and remove it from the trust store when done.
HELP
}

main() {
  command -v openssl >/dev/null || apt_install openssl
  mkdir -p "$CERTS_DIR"
  chmod 700 "$CERTS_DIR"
  if [[ "${FORCE:-}" == 1 ]]; then
    rm -f "$CA" "$CA_KEY" "$SERVER" "$SERVER_KEY" "$CERTS_DIR/ca.srl"
  fi
  # A CA without its key cannot sign a new server certificate: start over (and re-trust it).
  if ! valid "$CA" || [[ ! -s "$CA_KEY" ]]; then
    make_ca
    make_server
  elif ! valid "$SERVER" || [[ ! -s "$SERVER_KEY" ]] ||
    ! openssl verify -CAfile "$CA" "$SERVER" >/dev/null 2>&1; then
    make_server
  else
    info "certificates present in $CERTS_DIR (FORCE=1 to make new ones)"
  fi
  chmod 600 "$CA_KEY" "$SERVER_KEY"
  chmod 644 "$CA" "$SERVER"
  info "CA: $CA  server: $SERVER  key: $SERVER_KEY"
  trust_help
}

main
