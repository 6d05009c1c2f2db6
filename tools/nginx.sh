#!/usr/bin/env bash
# nginx in front of the native gateways, as its own master process (not the system service).
# Usage: tools/nginx.sh start|stop|reload|status
# Env: LISTEN_PORT (8080), LISTEN_HOST (127.0.0.1), GATEWAY_PORTS ("8081 8082"),
#      NGINX_CONN_LIMIT_PER_IP (1000), TLS (0; 1 serves wss:// on TLS_PORT and redirects
#      LISTEN_PORT to it), TLS_PORT (8443), CERTS_DIR (.run/certs: server.pem, server-key.pem).
# reload changes the upstreams only: it keeps the listeners (TLS or not) nginx was started with,
# and, without GATEWAY_PORTS, the upstreams too (e.g. to load renewed certificates).
set -euo pipefail
COMPONENT=nginx
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
CHOSEN_GATEWAY_PORTS="${GATEWAY_PORTS:-}"

LISTEN_PORT="${LISTEN_PORT:-8080}"
LISTEN_HOST="${LISTEN_HOST:-127.0.0.1}"
GATEWAY_PORTS="${GATEWAY_PORTS:-8081 8082}"
NGINX_CONN_LIMIT_PER_IP="${NGINX_CONN_LIMIT_PER_IP:-1000}"
TLS="${TLS:-0}"
TLS_PORT="${TLS_PORT:-8443}"
CERTS_DIR="${CERTS_DIR:-$RUN_DIR/certs}"
PREFIX="$RUN_DIR/nginx"
NGINX_LOG_DIR="$PREFIX/logs"
PID_FILE="$PREFIX/nginx.pid"
# The listeners and upstreams of the running nginx, so a reload (make scale) renders the same listeners.
EDGE_ENV="$PREFIX/edge.env"

save_edge() {
  printf 'LISTEN_HOST=%q\nLISTEN_PORT=%q\nTLS=%q\nTLS_PORT=%q\nCERTS_DIR=%q\nGATEWAY_PORTS=%q\n' \
    "$LISTEN_HOST" "$LISTEN_PORT" "$TLS" "$TLS_PORT" "$CERTS_DIR" "$GATEWAY_PORTS" >"$EDGE_ENV"
}

ensure_nginx() {
  command -v nginx >/dev/null && return 0
  apt_install nginx
  # The Debian package may start a system nginx on port 80 with its default site; we never use it.
  if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
    systemctl stop nginx || true
    systemctl disable nginx || true
  elif [[ -f /run/nginx.pid ]]; then
    nginx -s quit 2>/dev/null || true
  fi
}

render() {
  local args=(--prefix "$PREFIX" --log-dir "$NGINX_LOG_DIR" --listen "$LISTEN_HOST:$LISTEN_PORT"
    --conn-limit "$NGINX_CONN_LIMIT_PER_IP" --upstreams "$GATEWAY_PORTS") file
  if [[ "$TLS" == 1 ]]; then
    for file in server.pem server-key.pem; do
      [[ -s "$CERTS_DIR/$file" ]] || die "TLS=1 but $CERTS_DIR/$file is missing; run make certs first"
    done
    args+=(--tls-listen "$LISTEN_HOST:$TLS_PORT" --tls-cert "$CERTS_DIR/server.pem"
      --tls-key "$CERTS_DIR/server-key.pem")
  fi
  node -r ts-node/register/transpile-only "$ROOT/tools/nginx-config.ts" "${args[@]}" >/dev/null ||
    die "could not render nginx/native.conf.template"
  nginx -q -t -p "$PREFIX" -e "$NGINX_LOG_DIR/nginx-error.log" -c "$PREFIX/nginx.conf" ||
    die "generated $PREFIX/nginx.conf is invalid (see above); fix nginx/native.conf.template"
}

running_pid() {
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(tr -dc '0-9' <"$PID_FILE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

start() {
  local pid i
  if pid="$(running_pid)"; then
    info "already running (pid $pid) on $LISTEN_HOST:$LISTEN_PORT"
    return 0
  fi
  ensure_nginx
  port_open "$LISTEN_PORT" && die "port $LISTEN_PORT is taken by another process; stop it or set LISTEN_PORT"
  [[ "$TLS" == 1 ]] && port_open "$TLS_PORT" &&
    die "port $TLS_PORT is taken by another process; stop it or set TLS_PORT"
  mkdir -p "$NGINX_LOG_DIR"
  render
  save_edge
  nginx -p "$PREFIX" -e "$NGINX_LOG_DIR/nginx-error.log" -c "$PREFIX/nginx.conf" ||
    die "nginx failed to start; see $NGINX_LOG_DIR/nginx-error.log"
  for ((i = 0; i < 100; i++)); do
    if pid="$(running_pid)" && port_open "$LISTEN_PORT" && { [[ "$TLS" != 1 ]] || port_open "$TLS_PORT"; }; then
      ln -sf "$PID_FILE" "$PID_DIR/nginx.pid"
      if [[ "$TLS" == 1 ]]; then
        info "ready on $LISTEN_HOST:$TLS_PORT (TLS; $LISTEN_PORT redirects) -> gateways $GATEWAY_PORTS (pid $pid)"
      else
        info "ready on $LISTEN_HOST:$LISTEN_PORT -> gateways $GATEWAY_PORTS (pid $pid, logs $NGINX_LOG_DIR)"
      fi
      return 0
    fi
    sleep 0.1
  done
  tail -n 30 "$NGINX_LOG_DIR/nginx-error.log" >&2 || true
  die "nginx did not listen on port $LISTEN_PORT (and $TLS_PORT when TLS=1) within 10s"
}

# A reload starts new workers with the new upstreams; old workers keep serving their open
# WebSockets until those close, so no connection is dropped.
reload() {
  local pid
  pid="$(running_pid)" || die "not running; use tools/nginx.sh start"
  # shellcheck source=/dev/null # written by save_edge
  [[ -f "$EDGE_ENV" ]] && source "$EDGE_ENV"
  [[ -n "$CHOSEN_GATEWAY_PORTS" ]] && GATEWAY_PORTS="$CHOSEN_GATEWAY_PORTS"
  render
  nginx -p "$PREFIX" -e "$NGINX_LOG_DIR/nginx-error.log" -c "$PREFIX/nginx.conf" -s reload ||
    die "reload failed; see $NGINX_LOG_DIR/nginx-error.log"
  save_edge
  info "reloaded (pid $pid) -> gateways $GATEWAY_PORTS"
}

stop() {
  local pid i
  if ! pid="$(running_pid)"; then
    rm -f "$PID_DIR/nginx.pid"
    info "not running"
    return 0
  fi
  info "stopping pid $pid"
  # SIGTERM is nginx's fast shutdown; SIGQUIT would wait for every WebSocket to close.
  kill -TERM "$pid"
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  rm -f "$PID_DIR/nginx.pid" "$PID_FILE"
  info "stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  reload) reload ;;
  status) status_line nginx ;;
  *) die "usage: tools/nginx.sh start|stop|reload|status" ;;
esac
