#!/usr/bin/env bash
# The full native stack: Redis, Kafka, N gateways, nginx in front.
# Usage: tools/stack.sh up|down|status|logs|restart
# Env: GATEWAYS (2), GATEWAY_BASE_PORT (8081), LISTEN_PORT (8080), JWT_SECRET (else .run/jwt-secret),
#      LOG_LEVEL (info), GATEWAY_READY_TIMEOUT (60), plus those of tools/redis.sh, kafka.sh, nginx.sh.
set -euo pipefail
COMPONENT=stack
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
TOOLS="$ROOT/tools"

GATEWAYS="${GATEWAYS:-2}"
GATEWAY_BASE_PORT="${GATEWAY_BASE_PORT:-8081}"
GATEWAY_READY_TIMEOUT="${GATEWAY_READY_TIMEOUT:-60}"
LISTEN_PORT="${LISTEN_PORT:-8080}"
REDIS_PORT="${REDIS_PORT:-16379}"
KAFKA_PORT="${KAFKA_PORT:-19092}"
GATEWAY_MAIN="${GATEWAY_MAIN:-$ROOT/services/gateway/src/main.ts}"

gateway_ports() {
  local n
  for ((n = 1; n <= GATEWAYS; n++)); do printf '%s ' $((GATEWAY_BASE_PORT + n - 1)); done
}

http_status() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true; }

start_gateway() {
  local n="$1" port="$2" name="gateway-$1" pid log="$LOG_DIR/gateway-$1.log" deadline
  if pid="$(pid_of "$name")"; then
    info "$name already running (pid $pid) on port $port"
    return 0
  fi
  port_open "$port" && die "port $port is taken by another process; stop it or set GATEWAY_BASE_PORT"
  info "starting $name on port $port (log: $log)"
  (
    cd "$ROOT"
    export PORT="$port" GATEWAY_ID="gw-$n" LOG_LEVEL="${LOG_LEVEL:-info}" \
      REDIS_URL="redis://127.0.0.1:$REDIS_PORT" KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT" \
      JWT_SECRET="$(jwt_secret)"
    exec setsid node -r ts-node/register/transpile-only "$GATEWAY_MAIN" >>"$log" 2>&1 </dev/null
  ) &
  pid=$!
  echo "$pid" >"$PID_DIR/$name.pid"
  deadline=$((SECONDS + GATEWAY_READY_TIMEOUT))
  printf '[stack] waiting for %s /readyz ' "$name"
  until [[ "$(http_status "http://127.0.0.1:$port/readyz")" == 200 ]]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo
      warn "$name exited during startup; last 30 lines of $log:"
      tail -n 30 "$log" >&2 || true
      rm -f "$PID_DIR/$name.pid"
      die "$name failed to start; fix the error above, then run make up again"
    fi
    if ((SECONDS >= deadline)); then
      echo
      tail -n 30 "$log" >&2 || true
      die "$name not ready after ${GATEWAY_READY_TIMEOUT}s (GET /readyz != 200); see $log"
    fi
    printf '.'
    sleep 0.5
  done
  echo " ready (pid $pid)"
}

up() {
  if [[ ! -d "$ROOT/node_modules" ]]; then
    info "node_modules missing: running npm ci..."
    (cd "$ROOT" && npm ci --no-audit --no-fund) || die "npm ci failed; see the output above"
  fi
  "$TOOLS/redis.sh" start
  "$TOOLS/kafka.sh" start
  local ports n=0 port
  if [[ -f "$GATEWAY_MAIN" ]]; then
    ports="$(gateway_ports)"
    for port in $ports; do
      n=$((n + 1))
      start_gateway "$n" "$port"
    done
    GATEWAY_PORTS="$ports" LISTEN_PORT="$LISTEN_PORT" "$TOOLS/nginx.sh" start
    cat <<INFO

postbox is up.
  WebSocket:  ws://127.0.0.1:$LISTEN_PORT/ws?token=<JWT>   (or header Authorization: Bearer <JWT>)
  health:     http://127.0.0.1:$LISTEN_PORT/healthz  http://127.0.0.1:$LISTEN_PORT/readyz  http://127.0.0.1:$LISTEN_PORT/metrics
  gateways:   $(for p in $ports; do printf 'http://127.0.0.1:%s ' "$p"; done)
  token:      make token USER=alice
  logs:       make logs      stop: make down
INFO
  else
    warn "services/gateway/src/main.ts does not exist yet: started Redis and Kafka only (no gateways, no nginx)"
    info "Redis: redis://127.0.0.1:$REDIS_PORT  Kafka: 127.0.0.1:$KAFKA_PORT"
  fi
}

down() {
  "$TOOLS/nginx.sh" stop
  local file name
  # Highest-numbered gateway first: the reverse of the start order.
  for file in $(ls "$PID_DIR"/gateway-*.pid 2>/dev/null | sort -t- -k2 -n -r); do
    name="$(basename "$file" .pid)"
    stop_pid "$name" 10
  done
  "$TOOLS/kafka.sh" stop
  "$TOOLS/redis.sh" stop
}

status() {
  local file
  status_line redis
  status_line kafka
  for file in $(ls "$PID_DIR"/gateway-*.pid 2>/dev/null | sort -t- -k2 -n); do
    status_line "$(basename "$file" .pid)"
  done
  status_line nginx
}

logs() {
  local files=("$LOG_DIR"/*.log)
  [[ -d "$RUN_DIR/nginx/logs" ]] && files+=("$RUN_DIR"/nginx/logs/*.log)
  [[ -e "${files[0]}" ]] || die "no logs yet; run make up first"
  exec tail -n 20 -F "${files[@]}"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  logs) logs ;;
  restart)
    down
    up
    ;;
  *) die "usage: tools/stack.sh up|down|status|logs|restart" ;;
esac
