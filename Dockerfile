# syntax=docker/dockerfile:1
# One Dockerfile, one target per service: `docker build --target gateway .` (Compose names the
# target for each service). Each target carries only its own workspace packages and their
# production dependencies, installed from the frozen lockfile; the code runs as TypeScript, as in
# development, so there is no build step to drift from what the tests ran.

ARG BUN_VERSION=1.4.4

# --- dependencies -------------------------------------------------------------------------------
# Every workspace's package.json is copied, because a frozen install checks the whole lockfile;
# --filter then installs only the named workspace (and the workspaces it depends on).
FROM oven/bun:${BUN_VERSION}-slim AS manifests
WORKDIR /app
COPY package.json bun.lock bunfig.toml ./
COPY contracts/package.json contracts/
COPY lib/package.json lib/
COPY catalog/package.json catalog/
COPY cart/package.json cart/
COPY gateway/package.json gateway/
COPY loadtest/package.json loadtest/
COPY console/package.json console/

FROM manifests AS deps-catalog
RUN --mount=type=cache,target=/root/.bun/install/cache \
    bun install --frozen-lockfile --production --filter @shopstack/catalog

FROM manifests AS deps-cart
RUN --mount=type=cache,target=/root/.bun/install/cache \
    bun install --frozen-lockfile --production --filter @shopstack/cart

# The gateway validates with the public API's schemas from @shopstack/contracts, as the catalog
# and the cart do: no service image carries another service's code.
FROM manifests AS deps-gateway
RUN --mount=type=cache,target=/root/.bun/install/cache \
    bun install --frozen-lockfile --production --filter @shopstack/gateway

# --- what every service image shares ------------------------------------------------------------
FROM oven/bun:${BUN_VERSION}-slim AS runtime
ARG VERSION=0.1.0
ARG SOURCE_URL=""
LABEL org.opencontainers.image.title="ShopStack" \
      org.opencontainers.image.description="A microservice shop on Bun + Elysia for learning observability" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="MIT"
WORKDIR /app
# /data holds the SQLite stores; a named volume mounted there inherits this ownership.
RUN mkdir -p /data && chown 1000:1000 /data
# The memory budget JSC sizes its heap by (scripts/services.ts RUNTIME_ENV says why; a test keeps
# the two equal).
ENV HOST=0.0.0.0 \
    SERVICE_VERSION=${VERSION} \
    BUN_JSC_forceRAMSize=268435456
# Bun itself probes /livez: the slim image has no curl or wget, and needs none.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["bun", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/livez').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# The official image's unprivileged `bun` user, by number so `runAsNonRoot` checks can verify it.
USER 1000:1000

# --- one target per service ---------------------------------------------------------------------
# Exec-form CMD: Bun is PID 1 with no shell in between, so the SIGTERM of `docker stop` reaches
# it, and the service drains in-flight requests before exiting (lib/src/service-process.ts handles it).

FROM runtime AS catalog
COPY --from=deps-catalog /app/node_modules node_modules
COPY --from=deps-catalog /app/contracts/node_modules contracts/node_modules
COPY --from=deps-catalog /app/lib/node_modules lib/node_modules
COPY --from=deps-catalog /app/catalog/node_modules catalog/node_modules
COPY package.json ./
COPY contracts/package.json contracts/
COPY contracts/src contracts/src
COPY lib/package.json lib/
COPY lib/src lib/src
COPY catalog/package.json catalog/
COPY catalog/src catalog/src
WORKDIR /app/catalog
ENV PORT=8001 \
    DATABASE_PATH=/data/catalog.sqlite
EXPOSE 8001
CMD ["bun", "src/index.ts"]

FROM runtime AS cart
COPY --from=deps-cart /app/node_modules node_modules
COPY --from=deps-cart /app/contracts/node_modules contracts/node_modules
COPY --from=deps-cart /app/lib/node_modules lib/node_modules
COPY --from=deps-cart /app/cart/node_modules cart/node_modules
COPY package.json ./
COPY contracts/package.json contracts/
COPY contracts/src contracts/src
COPY lib/package.json lib/
COPY lib/src lib/src
COPY cart/package.json cart/
COPY cart/src cart/src
WORKDIR /app/cart
ENV PORT=8002 \
    DATABASE_PATH=/data/cart.sqlite
EXPOSE 8002
CMD ["bun", "src/index.ts"]

FROM runtime AS gateway
COPY --from=deps-gateway /app/node_modules node_modules
COPY --from=deps-gateway /app/contracts/node_modules contracts/node_modules
COPY --from=deps-gateway /app/lib/node_modules lib/node_modules
COPY --from=deps-gateway /app/gateway/node_modules gateway/node_modules
COPY package.json ./
COPY contracts/package.json contracts/
COPY contracts/src contracts/src
COPY lib/package.json lib/
COPY lib/src lib/src
COPY gateway/package.json gateway/
COPY gateway/src gateway/src
WORKDIR /app/gateway
ENV PORT=8000
EXPOSE 8000
CMD ["bun", "src/index.ts"]

# The load generator (Compose profile "loadtest"): the web UI on 8089.
FROM manifests AS deps-loadtest
RUN --mount=type=cache,target=/root/.bun/install/cache \
    bun install --frozen-lockfile --production --filter @shopstack/loadtest

FROM runtime AS loadtest
COPY --from=deps-loadtest /app/node_modules node_modules
COPY --from=deps-loadtest /app/contracts/node_modules contracts/node_modules
COPY --from=deps-loadtest /app/lib/node_modules lib/node_modules
COPY --from=deps-loadtest /app/loadtest/node_modules loadtest/node_modules
COPY package.json ./
COPY contracts/package.json contracts/
COPY contracts/src contracts/src
COPY lib/package.json lib/
COPY lib/src lib/src
COPY loadtest/package.json loadtest/
COPY loadtest/src loadtest/src
# The shipped fault scenarios: `--scenario loadtest/scenarios/<name>.json`.
COPY loadtest/scenarios loadtest/scenarios
EXPOSE 8089
# No /livez here: the load generator is a client, so its health is not probed.
HEALTHCHECK NONE
CMD ["bun", "loadtest/src/main.ts", "--host", "http://gateway:8000", "--web-host", "0.0.0.0", "--web-port", "8089"]
