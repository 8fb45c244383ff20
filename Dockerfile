# syntax=docker/dockerfile:1
# Production image: Node 24 runs the TypeScript sources directly (type stripping), so there is no build step;
# the first stage only installs production dependencies. `npm run image` builds it (docker or buildah).
# BASE: an image with Node 24, npm and a `node` user; container/base.sh makes one where node:24-slim cannot be
# pulled.
ARG BASE=node:24-slim

FROM ${BASE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM ${BASE}
# A base may trust extra CAs for its builds (container/base.sh: the build machine's TLS proxy); the service
# trusts only Node's own list.
ENV NODE_EXTRA_CA_CERTS= \
    NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    HOOKRELAY_DATA_DIR=/data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json index.js ./
COPY bin ./bin
COPY migrations ./migrations
COPY src ./src
# Task modules: mount a folder at /app/tasks and set HOOKRELAY_TASKS_DIR=/app/tasks; there, `import … from
# 'hookrelay'` resolves to this package (index.js).
# /data holds the embedded Postgres when DATABASE_URL is unset (evaluation only; use a real Postgres in production).
RUN mkdir /data && chown node:node /data
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
# Node's flags are on the command's first line (bin/hookrelay.js), as for every way of starting it.
CMD ["bin/hookrelay.js", "serve"]
