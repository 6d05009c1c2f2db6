# syntax=docker/dockerfile:1
# postbox gateway image. The gateway runs compiled: a build stage compiles the workspaces with
# `npm run build` (tsc -b: libs/*/dist, services/gateway/dist with the store's .lua scripts next to
# its JavaScript), and the runtime stage gets production dependencies and those dist/ folders only:
# no TypeScript sources, no ts-node, no typescript. The workspace packages' `main` is dist/.
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

# Every dependency (typescript is a dev dependency), then the build. What the runtime needs of each
# workspace, its package.json and dist/ (declarations and build info dropped), is gathered in /out.
FROM manifests AS build
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json tsconfig.package.json tsconfig.build.json ./
COPY libs libs
COPY services services
RUN npm run build \
 && mkdir /out \
 && find libs services -mindepth 2 -maxdepth 2 \( -name package.json -o -name dist \) -exec cp -a --parents {} /out/ \; \
 && find /out -name '*.tsbuildinfo' -delete \
 && find /out -name '*.d.ts' -delete \
 && find /out -name '*.d.ts.map' -delete \
 && test -f /out/services/gateway/dist/main.js

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /out/ ./
# Fail the build, not the first deploy, when the native uWebSockets.js binary does not load
# (postbox refuses the slow JS fallback, see services/gateway/src/transport/uws.ts), when a module
# or a Lua script of the store is missing, or when the compiler made it into the image.
RUN node -e "require('./services/gateway/dist/transport/uws').loadNativeUws(); console.log('uWebSockets.js native binary loads')" \
 && node -e "require('./services/gateway/dist/main')" \
 && node -e "require('./services/gateway/dist/store/redis-scripts').defineScripts({ defineCommand() {} })" \
 && node -e "for (const m of ['typescript', 'ts-node']) try { require.resolve(m); throw new Error(m + ' is in the image') } catch (e) { if (e.code !== 'MODULE_NOT_FOUND') throw e }"
USER node
EXPOSE 8080
# The gateway drains on SIGTERM: /readyz turns 503, sessions close with 1012, the producer flushes.
STOPSIGNAL SIGTERM
# Liveness only (no curl in the slim image). Readiness (/readyz) is for the load balancer.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "services/gateway/dist/main.js"]
