# syntax=docker/dockerfile:1
# The Tandem origin (origin/, Node + onnxruntime-node), served over the Open Inference Protocol on :8000.
#
#   docker build -t tandem-origin .                                   # models mounted at /models at run time
#   docker build -t tandem-origin --build-arg MODELS=baked .          # models/repository/ baked into /models
#   docker run --rm -p 8000:8000 -v "$PWD/models/repository:/models:ro" \
#     -e TANDEM_TRUSTED_KEYS="$(cat .tandem/keys/trusted-keys.json)" \
#     -e TANDEM_ORIGIN_TOKEN=... -e TANDEM_ADMIN_TOKEN=... tandem-origin
#
# Bake only a repository signed with the release key (`npx tandem build-models --key release.json`): the
# origin verifies every manifest and artifact against TANDEM_TRUSTED_KEYS at start and refuses the rest.
# The image holds the origin and the protocol it imports, compiled to JavaScript, and the origin
# workspace's production dependencies: no TypeScript, no tsx, no other tier. Kubernetes manifests for
# this image are in deploy/k8s/; the runbook is docs/operations.md.

# A current Node LTS. (The repository itself also runs on Node 20.19+.)
ARG NODE_IMAGE=node:22-bookworm-slim
# mounted (default): /models is empty and a volume is mounted there; baked: models/repository/ is copied in.
ARG MODELS=mounted

# The workspace manifests npm needs to install one workspace from the lockfile.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /app
COPY package.json package-lock.json .npmrc tsconfig.base.json ./
COPY protocol/package.json protocol/
COPY client/package.json client/
COPY worker/package.json worker/
COPY origin/package.json origin/
COPY models/package.json models/
COPY stack/package.json stack/

# Production dependencies of the origin workspace only. .npmrc (ignore-scripts) keeps onnxruntime-node's
# install script from downloading GPU binaries (its CPU binaries ship in the package).
FROM manifests AS deps
RUN npm ci --omit=dev --workspace @tandem-ml/origin --no-audit --no-fund && npm cache clean --force

# The origin and protocol compiled to JavaScript (origin/dist/{origin,protocol}/).
FROM manifests AS build
RUN npm ci --workspace @tandem-ml/origin --no-audit --no-fund
COPY protocol/ protocol/
COPY origin/ origin/
RUN npm run build --workspace @tandem-ml/origin

FROM ${NODE_IMAGE} AS models-mounted
RUN mkdir -p /models

FROM ${NODE_IMAGE} AS models-baked
COPY models/repository/ /models/

FROM models-${MODELS} AS models

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    TANDEM_ORIGIN_HOST=0.0.0.0 \
    TANDEM_ORIGIN_PORT=8000 \
    TANDEM_MODEL_REPOSITORY=/models \
    TANDEM_TRUSTED_KEYS_FILE=/etc/tandem/trusted-keys.json
WORKDIR /app
# Everything is owned by root and read-only to the server's user.
COPY --from=deps /app/node_modules/ node_modules/
COPY --from=build /app/origin/dist/ ./
COPY --from=models /models/ /models/
# The image's `node` user, by number so that Kubernetes' runAsNonRoot can check it.
USER 1000:1000
EXPOSE 8000
# Readiness, not liveness: false while draining or with no model loaded. Health routes need no token
# unless TANDEM_OPEN_OBSERVABILITY=false. (Kubernetes ignores HEALTHCHECK and uses the probes in deploy/k8s/.)
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.TANDEM_ORIGIN_PORT || 8000) + '/v2/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM drains: readiness turns false, new requests get 503, in-flight work finishes within
# TANDEM_DRAIN_TIMEOUT_MS, then the process exits. Node runs as PID 1 directly (no npm) so it gets the signal.
STOPSIGNAL SIGTERM
CMD ["node", "origin/main.js"]
