# syntax=docker/dockerfile:1
# pcapper's one image: `pcapper controller` (Deployment) and `pcapper agent` (DaemonSet), see
# charts/pcapper. Node.js 26 (the current LTS) on Debian bookworm slim, tcpdump and util-linux
# (nsenter, setpriv).
#
#   docker build -t ghcr.io/pcapper/pcapper:0.1.0 .
#
# Built and pushed for linux/amd64 and linux/arm64 by .github/workflows/release.yml. It is not
# built in pcapper's own CI (those machines have no container engine); test/deploy-image.test.ts
# checks its structure and replays its build and runtime steps
# (npm ci, tsc, production-only dependencies, the entry point) without an engine.

ARG NODE_IMAGE=node:26-bookworm-slim

# ---- build: all dependencies, compile TypeScript to dist/ -------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
# tsconfig.build.json compiles src/ without its tests (it extends tsconfig.json)
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json \
 && chmod 0755 dist/src/bin/pcapper.js dist/src/bin/kubectl-pcap.js

# ---- deps: production dependencies only ------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force

# ---- runtime ----------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
# tcpdump captures; util-linux provides nsenter (enter a pod's network namespace) and setpriv
# (PR_SET_PDEATHSIG: tcpdump dies with the agent). Nothing else: no shell is ever used at run time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tcpdump util-linux \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
RUN ln -s /app/dist/src/bin/pcapper.js /usr/local/bin/pcapper \
 && ln -s /app/dist/src/bin/kubectl-pcap.js /usr/local/bin/kubectl-pcap
# Non-root by default: the controller runs as this user (the chart sets the same uid and
# runAsNonRoot). The agent's pod overrides it with uid 0 and four capabilities, because setns(2)
# into another process's network namespace and tcpdump's packet socket need capabilities in the
# process's effective set, which Kubernetes grants non-root containers only through ambient or file
# capabilities (see the comments in charts/pcapper/templates/agent-daemonset.yaml).
USER 65532:65532
ENTRYPOINT ["pcapper"]
