# One image per service, all from this file:
#   docker build --build-arg SERVICE=payment -t order-saga/payment .
# SERVICE (order | payment | inventory | analytics | notification | console) selects the last
# stage. Every stage before the per-service ones is the same for all six, so the second image
# reuses the first one's dependency install and build from the cache. `--target payment` works too.
#
# No BuildKit-only syntax (no RUN --mount, no heredocs): docker-compose 1.29 builds through the
# classic builder.
ARG SERVICE

# Node 24 LTS on Debian 12 (the suites run on Node 24 in CI, see scripts/test-nodes.json). The
# major-version tag follows Node 24's patch releases; append @sha256:<digest> to freeze the image.
FROM node:24-bookworm-slim AS base
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

# Every dependency, for the build. --ignore-scripts: no package the build needs runs an install
# script (only @swc/core has one, for the test runner), and none should run at image build time.
FROM base AS deps
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts

FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY libs ./libs
COPY services ./services
# The services' TypeScript, and the operations console's page (Vite, into dist/console-web),
# which the console's backend serves: every image carries it, only the console's uses it.
RUN npm run build

# Production dependencies only, from the same lockfile; no compiler, no test tools.
FROM base AS prod-deps
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts

FROM base AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0
COPY package.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY infra/docker/healthcheck.js ./healthcheck.js
# The code stays owned by root, so the process cannot rewrite it. .data is the only writable
# directory: the in-process PGlite uses it when no DATABASE_URL is given (a quick try-out), and
# the console its audit log (a volume there keeps it: compose and k8s mount one).
RUN mkdir .data && chown 1000:1000 .data
# The image's `node` user, by number so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
# The services stop gracefully on SIGTERM: readiness turns false, consumers drain, the outbox
# flushes. Give them the time (docker stop -t 30, compose stop_grace_period, k8s
# terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "/app/healthcheck.js"]

# One stage per service. CMD and EXPOSE are literal: exec-form CMD does no variable
# substitution, so "dist/services/${SERVICE}/..." would reach node unexpanded.
FROM runtime AS order
ENV SERVICE=order
EXPOSE 3000
CMD ["node", "dist/services/order/src/main.js"]

FROM runtime AS payment
ENV SERVICE=payment
EXPOSE 3001
CMD ["node", "dist/services/payment/src/main.js"]

FROM runtime AS inventory
ENV SERVICE=inventory
EXPOSE 3002
CMD ["node", "dist/services/inventory/src/main.js"]

FROM runtime AS analytics
ENV SERVICE=analytics
EXPOSE 3003
CMD ["node", "dist/services/analytics/src/main.js"]

FROM runtime AS notification
ENV SERVICE=notification
EXPOSE 3005
CMD ["node", "dist/services/notification/src/main.js"]

# The operations console: no database, no broker; the services' URLs, the admin token, and its
# audit log in /app/.data (CONSOLE_AUDIT_LOG).
FROM runtime AS console
ENV SERVICE=console
EXPOSE 3004
CMD ["node", "dist/services/console/src/main.js"]

# Without --build-arg SERVICE this line fails with "base name (${SERVICE}) should not be blank".
FROM ${SERVICE}
