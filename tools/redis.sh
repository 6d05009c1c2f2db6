#!/usr/bin/env bash
# Our own redis-server with AOF, separate from any system Redis.
# Usage: tools/redis.sh start|stop|status
# Env: REDIS_PORT (16379), REDIS_APPENDFSYNC (everysec; "always" for the strictest durability tests).
set -euo pipefail
COMPONENT=redis
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

REDIS_PORT="${REDIS_PORT:-16379}"
REDIS_APPENDFSYNC="${REDIS_APPENDFSYNC:-everysec}"
DATA_DIR="$RUN_DIR/redis"

start() {
  local pid i
  if pid="$(pid_of redis)"; then
    info "already running (pid $pid) on 127.0.0.1:$REDIS_PORT"
    return 0
  fi
  command -v redis-server >/dev/null || apt_install redis-server
  port_open "$REDIS_PORT" && die "port $REDIS_PORT is taken by another process; stop it or set REDIS_PORT"
  mkdir -p "$DATA_DIR"
  rm -f "$PID_DIR/redis.pid"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DATA_DIR" \
    --appendonly yes --appendfsync "$REDIS_APPENDFSYNC" --save '' \
    --daemonize yes --pidfile "$PID_DIR/redis.pid" --logfile "$LOG_DIR/redis.log" ||
    die "redis-server failed to start; see $LOG_DIR/redis.log"
  # Daemonized: the pid file appears once the server has forked; PING proves it loaded the AOF.
  for ((i = 0; i < 300; i++)); do
    if redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
      info "ready on 127.0.0.1:$REDIS_PORT (pid $(pid_of redis), appendfsync $REDIS_APPENDFSYNC, data $DATA_DIR)"
      return 0
    fi
    sleep 0.1
  done
  tail -n 30 "$LOG_DIR/redis.log" >&2 || true
  die "redis did not answer PING within 30s; see $LOG_DIR/redis.log"
}

case "${1:-}" in
  start) start ;;
  stop) stop_pid redis 10 ;;
  status) status_line redis ;;
  *) die "usage: tools/redis.sh start|stop|status" ;;
esac
