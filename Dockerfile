# syntax=docker/dockerfile:1
#
# One multi-stage build for every process of the platform. Each process is a target of the same
# runtime image (they share every layer but the last few lines):
#
#   docker build --target orchestrator -t agent-platform-orchestrator .
#   docker build --target agent-worker -t agent-platform-agent-worker .
#   docker build --target llm-sim      -t agent-platform-llm-sim .
#   docker build --target migrate      -t agent-platform-migrate .
#
# `docker compose build` builds them all (see docker-compose.yml). The CMD of each target is what
# deploy/test/containers.e2e-spec.ts runs on the host (same command, same environment) to check that
# it starts the right app and shuts down cleanly on SIGTERM.

ARG NODE_IMAGE=node:24-alpine

# deps: every dependency (dev included: the compiler), cached until package*.json change.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund

# build: `npm run build` (tsc + path-alias rewrite), the same build as on a developer machine.
FROM deps AS build
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY scripts/build.js scripts/build.js
COPY apps apps
COPY libs libs
RUN npm run build

# prod-deps: production dependencies only; nothing from devDependencies reaches the runtime image.
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund

# runtime: Node, production node_modules and dist/, owned by root and run as an unprivileged user.
FROM ${NODE_IMAGE} AS runtime
# tini is PID 1: it forwards SIGTERM to node and reaps zombies. Node alone as PID 1 would ignore
# SIGTERM until the app installs its handlers (the kernel gives PID 1 no default signal actions).
RUN apk add --no-cache tini
ENV NODE_ENV=production
WORKDIR /app
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Numeric uid/gid (the image's `node` user) so Kubernetes can verify runAsNonRoot.
USER 1000:1000
ENTRYPOINT ["/sbin/tini", "--"]

FROM runtime AS migrate
CMD ["node", "dist/libs/db/src/migrate.js"]

# HEALTHCHECKs use busybox wget, which exits non-zero on any non-2xx answer: a readiness 503 marks
# the container unhealthy, and compose's `depends_on: condition: service_healthy` waits for it.
FROM runtime AS llm-sim
EXPOSE 8090
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD wget -q -O /dev/null "http://127.0.0.1:${LLM_SIM_PORT:-8090}/health/live" || exit 1
CMD ["node", "dist/apps/llm-sim/src/main.js"]

FROM runtime AS agent-worker
EXPOSE 8081
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD wget -q -O /dev/null "http://127.0.0.1:${WORKER_HEALTH_PORT:-8081}/health/ready" || exit 1
CMD ["node", "dist/apps/agent-worker/src/main.js"]

# Last, so a plain `docker build .` produces the API.
FROM runtime AS orchestrator
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD wget -q -O /dev/null "http://127.0.0.1:${ORCHESTRATOR_PORT:-8080}/health/ready" || exit 1
CMD ["node", "dist/apps/orchestrator/src/main.js"]
