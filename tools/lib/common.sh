# Shared helpers for the native stack scripts. Source it; do not run it.
# Everything the stack writes lives under $RUN_DIR (.run/, git-ignored).

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN_DIR="${RUN_DIR:-$ROOT/.run}"
PID_DIR="$RUN_DIR/pids"
LOG_DIR="$RUN_DIR/logs"
mkdir -p "$PID_DIR" "$LOG_DIR"

info() { printf '[%s] %s\n' "${COMPONENT:-stack}" "$*"; }
warn() { printf '[%s] WARNING: %s\n' "${COMPONENT:-stack}" "$*" >&2; }
die() {
  printf '[%s] ERROR: %s\n' "${COMPONENT:-stack}" "$*" >&2
  exit 1
}

# pid_of NAME -> prints the pid recorded in $PID_DIR/NAME.pid if that process is alive.
pid_of() {
  local file="$PID_DIR/$1.pid" pid
  [[ -f "$file" ]] || return 1
  pid="$(tr -dc '0-9' <"$file")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

# stop_pid NAME [GRACE_SECONDS]: SIGTERM, wait, SIGKILL after the grace period; removes the pid file.
stop_pid() {
  local name="$1" grace="${2:-10}" pid i
  if ! pid="$(pid_of "$name")"; then
    rm -f "$PID_DIR/$name.pid"
    info "$name: not running"
    return 0
  fi
  info "$name: stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    warn "$name: still alive after ${grace}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$PID_DIR/$name.pid"
  info "$name: stopped"
}

# status_line NAME: one line, "NAME running (pid N)" or "NAME stopped".
status_line() {
  local pid
  if pid="$(pid_of "$1")"; then
    printf '%-12s running (pid %s)\n' "$1" "$pid"
  else
    printf '%-12s stopped\n' "$1"
  fi
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# apt_install PKG...: installs Debian packages when their command is missing.
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found; install $* with your package manager"
  local sudo=""
  [[ "$(id -u)" == 0 ]] || sudo="sudo"
  info "installing $* via apt (one time)..."
  $sudo apt-get update -q || die "apt-get update failed; check network access to the Debian mirrors"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "$@" ||
    die "apt-get install $* failed; install it manually"
}

# jwt_secret: $JWT_SECRET, else a dev secret generated once into $RUN_DIR/jwt-secret and reused,
# so tokens minted by tools/token.ts stay valid across stack restarts.
jwt_secret() {
  if [[ -n "${JWT_SECRET:-}" ]]; then
    echo "$JWT_SECRET"
    return 0
  fi
  local file="$RUN_DIR/jwt-secret"
  if [[ ! -s "$file" ]]; then
    (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '\n=' >"$file")
  fi
  cat "$file"
}

# npm_build: npm run build (tsc -b into dist/, incremental), one build at a time: the test harness
# (tests/support/gateways.ts) takes the same lock before building.
npm_build() {
  mkdir -p "$ROOT/.run"
  (cd "$ROOT" && flock "$ROOT/.run/build.lock" npm run -s build)
}
