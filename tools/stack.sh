#!/usr/bin/env bash
# The full native stack: Redis, Kafka, N gateways, nginx in front.
# Usage: tools/stack.sh up|down|status|logs|restart|scale N
# Env: GATEWAYS (2), GATEWAY_BASE_PORT (8081), LISTEN_PORT (8080), JWT_SECRET (else .run/jwt-secret),
#      GATEWAY_MAIN (services/gateway/dist/main.js, which up and scale build first with npm run build;
#      a .ts entry point such as services/gateway/src/main.ts runs through ts-node instead),
#      LOG_LEVEL (info), GATEWAY_READY_TIMEOUT (60), TLS (0; 1 runs tools/certs.sh and serves wss://
#      on TLS_PORT, 8443), DEV_TOKENS (0; 1 lets the web chat page sign in: POST /dev/token),
#      plus those of tools/redis.sh, kafka.sh, nginx.sh.
set -euo pipefail
COMPONENT=stack
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
TOOLS="$ROOT/tools"
# Whether the caller chose these, before the defaults below: restart keeps what is running otherwise.
CHOSEN_GATEWAYS="${GATEWAYS:-}"
CHOSEN_TLS="${TLS:-}"

GATEWAYS="${GATEWAYS:-2}"
GATEWAY_BASE_PORT="${GATEWAY_BASE_PORT:-8081}"
# Gateways sit behind nginx: loopback only unless told otherwise.
GATEWAY_HOST="${GATEWAY_HOST:-127.0.0.1}"
GATEWAY_READY_TIMEOUT="${GATEWAY_READY_TIMEOUT:-60}"
LISTEN_PORT="${LISTEN_PORT:-8080}"
REDIS_PORT="${REDIS_PORT:-16379}"
KAFKA_PORT="${KAFKA_PORT:-19092}"
# The gateway's sources and the compiled entry point `npm run build` (tsc -b) makes of them.
GATEWAY_SOURCE="$ROOT/services/gateway/src/main.ts"
GATEWAY_MAIN="${GATEWAY_MAIN:-$ROOT/services/gateway/dist/main.js}"
TLS="${TLS:-0}"
TLS_PORT="${TLS_PORT:-8443}"
# After SIGTERM a gateway exits within DRAIN_TIMEOUT_MS (10 s) + 5 s; SIGKILL only after that.
DRAIN_GRACE=20
EDGE_ENV="$RUN_DIR/nginx/edge.env"

gateway_ports() {
  local n
  for ((n = 1; n <= GATEWAYS; n++)); do printf '%s ' $((GATEWAY_BASE_PORT + n - 1)); done
}

# Compiles what changed since the last build (tsc -b is incremental; a second or two otherwise).
build_gateway() {
  info "building the gateway: npm run build (tsc -b, only what changed)"
  npm_build || die "npm run build failed; see the output above"
}

http_status() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true; }

start_gateway() {
  local n="$1" port="$2" name="gateway-$1" pid log="$LOG_DIR/gateway-$1.log" deadline
  # Plain node on the build (no compiler in the process); ts-node only for a .ts GATEWAY_MAIN.
  local command=(node "$GATEWAY_MAIN")
  if [[ "$GATEWAY_MAIN" == *.ts ]]; then command=(node -r ts-node/register/transpile-only "$GATEWAY_MAIN"); fi
  if pid="$(pid_of "$name")"; then
    info "$name already running (pid $pid) on port $port"
    return 0
  fi
  port_open "$port" && die "port $port is taken by another process; stop it or set GATEWAY_BASE_PORT"
  info "starting $name on port $port (log: $log)"
  (
    cd "$ROOT"
    export HOST="$GATEWAY_HOST" PORT="$port" GATEWAY_ID="gw-$n" LOG_LEVEL="${LOG_LEVEL:-info}" \
      REDIS_URL="redis://127.0.0.1:$REDIS_PORT" KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT" \
      JWT_SECRET="$(jwt_secret)"
    exec setsid "${command[@]}" >>"$log" 2>&1 </dev/null
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

# The listeners nginx actually runs with (nginx.sh records them), which may predate this call's env.
edge_setting() {
  local name="$1"
  [[ -f "$EDGE_ENV" ]] && (source "$EDGE_ENV" && echo "${!name}") || echo "${!name}"
}

# The page signs in through POST /dev/token, which the gateways serve only with DEV_TOKENS=1.
dev_tokens_note() {
  if [[ "${DEV_TOKENS:-0}" =~ ^(1|true|yes|on)$ ]]; then
    echo "(DEV_TOKENS=1: anyone who reaches the gateways can sign in as anyone)"
  else
    echo "(its sign-in needs the gateways started with DEV_TOKENS=1: make down; DEV_TOKENS=1 make up)"
  fi
}

print_urls() {
  local ports="$1" tls port scheme=ws http=http
  tls="$(edge_setting TLS)"
  port="$(edge_setting LISTEN_PORT)"
  if [[ "$tls" == 1 ]]; then
    port="$(edge_setting TLS_PORT)" scheme=wss http=https
  fi
  cat <<INFO

postbox is up.
  WebSocket:  $scheme://localhost:$port/ws?token=<JWT>   (or header Authorization: Bearer <JWT>)
  health:     $http://localhost:$port/healthz  $http://localhost:$port/readyz  $http://localhost:$port/metrics
  gateways:   $(for p in $ports; do printf 'http://127.0.0.1:%s ' "$p"; done)
  chat page:  $http://localhost:$port/   $(dev_tokens_note)
  token:      make token USER=alice
  logs:       make logs      stop: make down
INFO
  if [[ "$tls" == 1 ]]; then
    echo "  TLS:        http://localhost:$(edge_setting LISTEN_PORT) redirects (301) to https; clients must trust"
    echo "              $(edge_setting CERTS_DIR)/ca.pem (e.g. NODE_EXTRA_CA_CERTS=...; see make certs)"
  fi
}

# Running gateways as "n name" lines, lowest n first.
running_gateways() {
  local file name
  for file in "$PID_DIR"/gateway-*.pid; do
    [[ -e "$file" ]] || continue
    name="$(basename "$file" .pid)"
    pid_of "$name" >/dev/null && echo "${name#gateway-} $name"
  done | sort -n
}

# Exactly N gateways: start the missing ones (each waits for /readyz), point nginx at gateways
# 1..N, then SIGTERM the rest. nginx goes first so no new connection or reconnect is sent to a
# gateway that is draining; the drained gateway closes its sessions with 1012 and its clients
# reconnect through nginx to the others. A reload keeps every open connection (docs/operations.md).
scale() {
  local target="${1:-}" n name surplus=()
  [[ "$target" =~ ^[1-9][0-9]*$ ]] || die "usage: tools/stack.sh scale N (make scale N=3): N is the number of gateways, at least 1"
  [[ -f "$GATEWAY_SOURCE" ]] || die "$GATEWAY_SOURCE does not exist: there are no gateways to scale"
  pid_of redis >/dev/null && pid_of kafka >/dev/null ||
    die "Redis and Kafka are not running: start the stack with make up GATEWAYS=$target"
  build_gateway
  GATEWAYS="$target"
  for ((n = 1; n <= target; n++)); do start_gateway "$n" "$((GATEWAY_BASE_PORT + n - 1))"; done
  while read -r n name; do
    if ((n > target)); then surplus=("$name" "${surplus[@]}"); fi
  done < <(running_gateways)
  if "$TOOLS/nginx.sh" status | grep -q running; then
    GATEWAY_PORTS="$(gateway_ports)" "$TOOLS/nginx.sh" reload
  else
    GATEWAY_PORTS="$(gateway_ports)" LISTEN_PORT="$LISTEN_PORT" TLS="$TLS" TLS_PORT="$TLS_PORT" \
      "$TOOLS/nginx.sh" start
  fi
  for name in "${surplus[@]}"; do
    info "draining $name (SIGTERM: sessions close with 1012, clients reconnect to the others)"
    stop_pid "$name" "$DRAIN_GRACE"
  done
  info "$target gateway(s) running: $(gateway_ports)"
}

restart() {
  local count
  count="$(running_gateways | wc -l)"
  if [[ -z "$CHOSEN_GATEWAYS" && "$count" -gt 0 ]]; then GATEWAYS="$count"; fi
  if [[ -z "$CHOSEN_TLS" ]]; then TLS="$(edge_setting TLS)"; fi
  down
  up
}

up() {
  if [[ ! -d "$ROOT/node_modules" ]]; then
    info "node_modules missing: running npm ci..."
    (cd "$ROOT" && npm ci --no-audit --no-fund) || die "npm ci failed; see the output above"
  fi
  if [[ "$TLS" == 1 ]]; then "$TOOLS/certs.sh"; fi
  # The web chat page nginx serves at / (web/dist is built, not committed).
  info "building the web chat page: npm run build:web"
  (cd "$ROOT" && npm run -s build:web) || die "npm run build:web failed; see the output above"
  "$TOOLS/redis.sh" start
  "$TOOLS/kafka.sh" start
  local ports n=0 port
  if [[ -f "$GATEWAY_SOURCE" ]]; then
    build_gateway
    ports="$(gateway_ports)"
    for port in $ports; do
      n=$((n + 1))
      start_gateway "$n" "$port"
    done
    GATEWAY_PORTS="$ports" LISTEN_PORT="$LISTEN_PORT" TLS="$TLS" TLS_PORT="$TLS_PORT" "$TOOLS/nginx.sh" start
    print_urls "$ports"
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
  restart) restart ;;
  scale) scale "${2:-}" ;;
  *) die "usage: tools/stack.sh up|down|status|logs|restart|scale N" ;;
esac
