# postbox developer entry points. `make` lists them; each one-line description is the `## ` comment.
SHELL := /bin/bash
.DEFAULT_GOAL := help
TS_NODE := node -r ts-node/register/transpile-only

.PHONY: help install up down restart status logs test test-unit test-integration lint typecheck bench token clean

help: ## list the targets
	@awk 'BEGIN { FS = ":.*## " } /^[a-zA-Z_-]+:.*## / { printf "  %-17s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

install: ## install what the stack needs: apt packages (redis-server, nginx) if missing, npm ci, Kafka jars
	@tools/install.sh

up: ## start Redis, Kafka, the gateways and nginx natively (ws://127.0.0.1:8080/ws)
	@tools/stack.sh up

down: ## stop everything `make up` started
	@tools/stack.sh down

restart: ## down, then up
	@tools/stack.sh restart

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

bench: ## load benchmark against the running stack (make up first)
	@npm run bench

token: ## print a dev JWT: make token USER=alice [TTL=3600]
	@if [ "$(origin USER)" != "command line" ]; then echo "usage: make token USER=alice [TTL=seconds]" >&2; exit 2; fi
	@$(TS_NODE) tools/token.ts "$(USER)"

clean: ## stop the stack and delete .run/ (state, logs) and .cache/ (Kafka jars)
	@tools/stack.sh down
	rm -rf .run .cache
