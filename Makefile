# postbox developer entry points. `make` lists them; each one-line description is the `## ` comment.
SHELL := /bin/bash
.DEFAULT_GOAL := help
TS_NODE := node -r ts-node/register/transpile-only

.PHONY: help install build up down restart scale certs status logs test test-unit test-integration lint typecheck bench token clean
.PHONY: compose-up compose-down embedded

help: ## list the targets
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z_-]+:.*## / { printf "  %-17s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

install: ## install what the stack needs: apt packages (redis-server, nginx) if missing, npm ci, Kafka jars
	@tools/install.sh

build: ## compile libs and the gateway to dist/ (tsc -b, incremental; make up runs it): node services/gateway/dist/main.js
	@npm run -s build

up: ## start Redis, Kafka, the gateways and nginx natively (ws://127.0.0.1:8080/ws; TLS=1: wss://localhost:8443/ws)
	@tools/stack.sh up

down: ## stop everything `make up` started
	@tools/stack.sh down

restart: ## down, then up (keeps the running number of gateways and TLS unless GATEWAYS= / TLS= say otherwise)
	@tools/stack.sh restart

scale: ## run exactly N gateways: make scale N=3 (new ones ready, nginx reloaded, extra ones drained)
	@if [ "$(origin N)" != "command line" ]; then echo "usage: make scale N=<number of gateways, at least 1>" >&2; exit 2; fi
	@tools/stack.sh scale "$(N)"

certs: ## dev CA + localhost/127.0.0.1 certificate in .run/certs (FORCE=1 remakes them); prints how to trust it
	@tools/certs.sh

status: ## one line per component: running pid or stopped
	@tools/stack.sh status

logs: ## follow every log of the native stack
	@tools/stack.sh logs

test: ## full suite on real Redis + Kafka: install, start them, jest (all projects), typecheck, lint
	@tools/test.sh all

test-unit: ## unit tests only (no infrastructure)
	@npx jest --selectProjects unit --passWithNoTests

test-integration: ## integration + end-to-end tests on the native Redis and Kafka (started if needed)
	@tools/test.sh integration

lint: ## eslint and prettier --check
	@npm run lint

typecheck: ## tsc --noEmit over the whole repo
	@npm run typecheck

bench: ## load benchmark, postbox vs a Socket.IO 4 reference (two gateways / two instances, same nginx, Redis, Kafka, load): latency, goodput, errors, CPU per message per process, ratios; idle memory
	@npm run bench

token: ## print a dev JWT: make token USER=alice [TTL=3600]
	@if [ "$(origin USER)" != "command line" ]; then echo "usage: make token USER=alice [TTL=seconds]" >&2; exit 2; fi
	@$(TS_NODE) tools/token.ts "$(USER)"

embedded: ## one gateway in memory, no Redis/Kafka/nginx (not durable) on ws://127.0.0.1:8080/ws (PORT=); `make token` tokens work; Ctrl-C stops it
	@source tools/lib/common.sh && npm_build && export JWT_SECRET="$$(jwt_secret)" PORT="$${PORT:-8080}" && \
	  echo "[embedded] ws://127.0.0.1:$$PORT/ws  tokens: make -s token USER=alice  (no chat page in this mode; Ctrl-C stops it)" && \
	  exec npm start

compose-up: ## the stack in Docker: build the gateway image, start Kafka, Redis, gateway, nginx (needs JWT_SECRET; TLS=1)
	@docker info >/dev/null 2>&1 || { echo "compose-up: no Docker engine answers (docker info failed). Start the Docker daemon (or set DOCKER_HOST), or run the native stack with: make up" >&2; exit 1; }
	@docker compose version >/dev/null 2>&1 || { echo "compose-up: the docker compose plugin is missing; install docker-compose-plugin, or run the native stack with: make up" >&2; exit 1; }
	@[ -n "$$JWT_SECRET" ] || { echo "compose-up: set JWT_SECRET (32+ characters), e.g. JWT_SECRET=\$$(openssl rand -hex 32) make compose-up" >&2; exit 2; }
	@if [ "$(TLS)" = 1 ]; then tools/certs.sh; fi
	@npm run -s build:web
	docker compose $(if $(filter 1,$(TLS)),-f docker-compose.yml -f docker-compose.tls.yml) up -d --build

compose-down: ## stop and remove the compose stack (volumes are kept; add -v by hand to drop data)
	@docker info >/dev/null 2>&1 || { echo "compose-down: no Docker engine answers (docker info failed); nothing to stop" >&2; exit 1; }
	docker compose down

clean: ## stop the stack and delete .run/ (state, logs), .cache/ (Kafka jars) and the gateway build (dist/)
	@tools/stack.sh down
	rm -rf .run .cache libs/*/dist services/*/dist
