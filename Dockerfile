# syntax=docker/dockerfile:1
# postbox gateway image. The gateway runs from its TypeScript sources through ts-node's
# transpile-only hook, exactly as `make up` and the tests run it: the workspace packages point
# their `main` at src/*.ts and the store reads its .lua scripts next to the sources.
ARG NODE_IMAGE=node:20-bookworm-slim

# Workspace manifests only (every libs/* and services/* package.json, whatever workspaces exist),
# so the npm layers below are rebuilt only when a manifest or the lockfile changes.
FROM ${NODE_IMAGE} AS sources
WORKDIR /src
COPY libs libs
COPY services services
RUN mkdir /manifests \
 && find libs services -mindepth 2 -maxdepth 2 -name package.json -exec cp --parents {} /manifests/ \;

FROM ${NODE_IMAGE} AS manifests
WORKDIR /app
COPY --from=sources /manifests/ ./
COPY package.json package-lock.json ./

# Production dependencies, with uWebSockets.js trimmed to the one binary this platform loads
# (the package ships ~90 MB of binaries for every OS, arch and Node ABI).
FROM manifests AS prod-deps
RUN npm ci --omit=dev --no-audit --no-fund \
 && keep="uws_$(node -p 'process.platform + "_" + process.arch + "_" + process.versions.modules').node" \
 && find node_modules/uWebSockets.js/binaries -type f ! -name "$keep" -delete \
 && test -f "node_modules/uWebSockets.js/binaries/$keep"

# Every dependency: ts-node and typescript are dev dependencies, and the gateway needs them at
# runtime. Their closure (from package-lock.json) is gathered into /ts-runtime for the last stage;
# the runtime stage's own check below fails the build if this list ever misses a package.
FROM manifests AS build
RUN npm ci --no-audit --no-fund
RUN mkdir -p /ts-runtime \
 && cd node_modules \
 && cp -a --parents ts-node typescript @cspotcode/source-map-support @jridgewell/resolve-uri \
      @jridgewell/sourcemap-codec @tsconfig/node10 @tsconfig/node12 @tsconfig/node14 \
      @tsconfig/node16 acorn acorn-walk arg create-require diff make-error v8-compile-cache-lib yn \
      /ts-runtime/

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /ts-runtime/ ./node_modules/
COPY package.json tsconfig.base.json tsconfig.json ./
COPY libs libs
COPY services services
# Fail the build, not the first deploy, when the native uWebSockets.js binary does not load:
# postbox refuses the slow JS fallback (see services/gateway/src/transport/uws.ts).
RUN node -r ts-node/register/transpile-only \
      -e "require('./services/gateway/src/transport/uws').loadNativeUws(); console.log('uWebSockets.js native binary loads')" \
 && node -r ts-node/register/transpile-only -e "require('./services/gateway/src/main')"
USER node
EXPOSE 8080
# The gateway drains on SIGTERM: /readyz turns 503, sessions close with 1012, the producer flushes.
STOPSIGNAL SIGTERM
# Liveness only (no curl in the slim image). Readiness (/readyz) is for the load balancer.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "-r", "ts-node/register/transpile-only", "services/gateway/src/main.ts"]
