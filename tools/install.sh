#!/usr/bin/env bash
# One-time setup for the native stack: system packages when missing (chromium for the web test
# included), npm ci, the Kafka jars.
set -euo pipefail
COMPONENT=install
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v nginx >/dev/null || missing+=(nginx)
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v curl >/dev/null || missing+=(curl)
# Headless Chromium for the web page's end-to-end test (tests/web/chat.test.ts drives it with
# playwright-core, which downloads no browser of its own); fonts-liberation so text renders.
[[ -x /usr/bin/chromium ]] || missing+=(chromium fonts-liberation)
if ((${#missing[@]} > 0)); then
  apt_install "${missing[@]}"
  # The Debian nginx package may start a system nginx on port 80; the stack runs its own master.
  if [[ " ${missing[*]} " == *" nginx "* ]] && command -v systemctl >/dev/null; then
    systemctl disable --now nginx 2>/dev/null || true
  fi
else
  info "system packages present (redis-server, nginx, java, mvn, curl, chromium)"
fi

if [[ ! -d "$ROOT/node_modules" ]]; then
  info "running npm ci..."
  (cd "$ROOT" && npm ci --no-audit --no-fund) || die "npm ci failed; see the output above"
else
  info "node_modules present (run npm ci yourself after changing package-lock.json)"
fi

"$ROOT/tools/kafka.sh" fetch
info "done"
