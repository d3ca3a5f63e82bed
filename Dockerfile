# One image recipe for the four services. Build from the repository root:
#   docker build --build-arg SERVICE=api-gateway -t trading/api-gateway:0.1.0 .
# SERVICE is one of api-gateway, order-router, market-data, matching-worker. Every image carries
# the whole dist/ (a few hundred kB of JS), so any of them can also run the one-shot jobs:
#   node dist/libs/db/src/migrate.main.js          (migrations, direct connection)
#   node dist/libs/kafka/src/create-topics.main.js (topics from @trading/contracts)

# Pinned by version; a bump changes this one line. Append @sha256:<digest> to freeze it fully.
# RUN --mount needs BuildKit (the default builder since Docker 23).
ARG NODE_IMAGE=node:24.22.3-bookworm-slim

# --- deps: every dependency, for the swc build -------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# patches/ is applied by the postinstall script (patch-package): a kafkajs fix, see the patch.
COPY patches patches
# `npm ci`: exactly the lock (complete, every platform's optional binaries listed), or a failure.
# Behind a TLS-intercepting proxy, hand its CA bundle as a BuildKit secret (never baked into a
# layer): docker build --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt ... (optional).
RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
    && npm ci --no-audit --no-fund --loglevel=error

# --- build: swc emit into dist/, tree preserved ------------------------------------------------
FROM deps AS build
COPY tsconfig.base.json ./
COPY scripts/build.mjs scripts/build.mjs
COPY libs libs
COPY services services
RUN node scripts/build.mjs

# --- prod-deps: runtime dependencies only ------------------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
# patches/ is applied by the postinstall script (patch-package): a kafkajs fix, see the patch.
COPY patches patches
# --omit=dev leaves swc, jest, nx, eslint out.
RUN --mount=type=cache,target=/root/.npm --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
    && npm ci --omit=dev --no-audit --no-fund --loglevel=error

# --- runtime -----------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# tini is PID 1: it forwards SIGTERM to node (whose handler drains consumers and flushes
# producers) and reaps zombies. Pinned to bookworm's version.
# Before the per-build ARGs below: a new revision does not re-run apt.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
    && rm -rf /var/lib/apt/lists/*

ARG NODE_IMAGE
ARG SERVICE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=unknown

LABEL org.opencontainers.image.title="trading-${SERVICE}" \
      org.opencontainers.image.description="Spot-exchange backend: ${SERVICE} (NestJS 11 on Node.js)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="UNLICENSED" \
      org.opencontainers.image.vendor="trading-platform" \
      org.opencontainers.image.base.name="docker.io/library/${NODE_IMAGE}"

WORKDIR /app
ENV NODE_ENV=production \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=8080 \
    SERVICE=${SERVICE}

COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Fails the build on a missing or misspelt SERVICE; main.js is what CMD starts.
RUN test -n "${SERVICE}" \
    && test -f "dist/services/${SERVICE}/src/main.js" \
    && ln -s "dist/services/${SERVICE}/src/main.js" main.js

# Files stay root-owned (read-only to the app); the process runs as the image's `node` user
# (uid 1000), numeric so a runtime can check runAsNonRoot without reading /etc/passwd.
USER 1000:1000
EXPOSE 8080
STOPSIGNAL SIGTERM

# /health/serving is the container health: 503 until every dependency has answered once (a
# start-first rollout waits for that; Swarm replaces a task that never gets there) and while
# draining; a shared dependency lost later does not make every task unhealthy (ADR 0012). curl is not in slim images, and a
# node process per check costs ~130 ms of CPU every 10 s in every task: bash's /dev/tcp does it.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${HTTP_PORT:-8080} && printf 'GET /health/serving HTTP/1.0\\r\\n\\r\\n' >&3 && read -r s <&3 && [[ $s == *' 200 '* ]]"]

ENTRYPOINT ["/usr/bin/tini", "--"]
# --max-semi-space-size: a 32 MB young generation, fewer scavenges of per-order garbage.
CMD ["node", "--enable-source-maps", "--max-semi-space-size=32", "main.js"]
