#!/usr/bin/env bash
# nginx in front of the native gateways, as its own master process (not the system service).
# Usage: tools/nginx.sh start|stop|reload|status
# Env: LISTEN_PORT (8080), LISTEN_HOST (127.0.0.1), GATEWAY_PORTS ("8081 8082"),
#      NGINX_CONN_LIMIT_PER_IP (1000).
set -euo pipefail
COMPONENT=nginx
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

LISTEN_PORT="${LISTEN_PORT:-8080}"
LISTEN_HOST="${LISTEN_HOST:-127.0.0.1}"
GATEWAY_PORTS="${GATEWAY_PORTS:-8081 8082}"
NGINX_CONN_LIMIT_PER_IP="${NGINX_CONN_LIMIT_PER_IP:-1000}"
PREFIX="$RUN_DIR/nginx"
NGINX_LOG_DIR="$PREFIX/logs"
PID_FILE="$PREFIX/nginx.pid"

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
  node -r ts-node/register/transpile-only "$ROOT/tools/nginx-config.ts" --prefix "$PREFIX" \
    --log-dir "$NGINX_LOG_DIR" --listen "$LISTEN_HOST:$LISTEN_PORT" \
    --conn-limit "$NGINX_CONN_LIMIT_PER_IP" --upstreams "$GATEWAY_PORTS" >/dev/null ||
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
  mkdir -p "$NGINX_LOG_DIR"
  render
  nginx -p "$PREFIX" -e "$NGINX_LOG_DIR/nginx-error.log" -c "$PREFIX/nginx.conf" ||
    die "nginx failed to start; see $NGINX_LOG_DIR/nginx-error.log"
  for ((i = 0; i < 100; i++)); do
    if pid="$(running_pid)" && port_open "$LISTEN_PORT"; then
      ln -sf "$PID_FILE" "$PID_DIR/nginx.pid"
      info "ready on $LISTEN_HOST:$LISTEN_PORT -> gateways $GATEWAY_PORTS (pid $pid, logs $NGINX_LOG_DIR)"
      return 0
    fi
    sleep 0.1
  done
  tail -n 30 "$NGINX_LOG_DIR/nginx-error.log" >&2 || true
  die "nginx did not listen on $LISTEN_PORT within 10s"
}

# A reload starts new workers with the new upstreams; old workers keep serving their open
# WebSockets until those close, so no connection is dropped.
reload() {
  local pid
  pid="$(running_pid)" || die "not running; use tools/nginx.sh start"
  render
  nginx -p "$PREFIX" -e "$NGINX_LOG_DIR/nginx-error.log" -c "$PREFIX/nginx.conf" -s reload ||
    die "reload failed; see $NGINX_LOG_DIR/nginx-error.log"
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
