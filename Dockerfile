# taskmesh images: one build, one target per service.
#   docker build --target dispatcher -t taskmesh/dispatcher:local .
# Targets: nameservice, dispatcher, monitoring, worker (the worker's command is its type).
# NODE_IMAGE replaces the base, e.g. with the offline image of devtools/bin/build-base-image.sh;
# the file uses nothing but node, npm and sh from it, so any glibc Node 20 image works
# (@napi-rs/canvas needs glibc: not Alpine).
ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: all dependencies, compile TypeScript, stage the runtime files
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
COPY shared/package.json shared/
COPY nameservice/package.json nameservice/
COPY worker/package.json worker/
COPY dispatcher/package.json dispatcher/
COPY client/package.json client/
COPY monitoring/package.json monitoring/
COPY devtools/package.json devtools/
RUN ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"]
COPY . .
RUN ["node", "node_modules/typescript/bin/tsc", "-b"]
RUN ["node", "devtools/bin/stage-runtime.js", "/stage"]

# ---- runtime: production dependencies and compiled output, run as a non-root user
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /stage/manifests/ ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --cache /tmp/npm-cache \
 && npm cache clean --force --cache /tmp/npm-cache
COPY --from=build /stage/app/ ./
# The nameservice's registry volume mounts here; a named volume takes this owner when created.
RUN ["node", "-e", "const fs = require('fs'); fs.mkdirSync('/app/data', { recursive: true }); fs.chownSync('/app/data', 10001, 10001)"]
# Numeric, so the base needs no useradd nor a passwd entry.
USER 10001:10001
ENV HOME=/tmp
# Exec form everywhere: node is PID 1 and receives SIGTERM itself, so a stopping container
# drains and deregisters instead of being SIGKILLed after the grace period.
STOPSIGNAL SIGTERM

FROM runtime AS nameservice
ENV TASKMESH_REGISTRY_FILE=/app/data/registry.json
EXPOSE 7100
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "devtools/dist/healthcheck-main.js", "nameservice"]
CMD ["node", "nameservice/dist/main.js"]

FROM runtime AS monitoring
# Starts as root only to join the group of the mounted Docker socket (whatever its number on this
# host); monitoring/src/privileges.ts then becomes TASKMESH_RUN_AS before it serves anything.
USER 0:0
ENV TASKMESH_RUN_AS=10001:10001
EXPOSE 7300
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "devtools/dist/healthcheck-main.js", "monitoring"]
CMD ["node", "monitoring/dist/main.js"]

FROM runtime AS worker
# Healthy once the nameservice holds a live registration at this container's address.
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "devtools/dist/healthcheck-main.js", "worker"]
ENTRYPOINT ["node", "worker/dist/main.js"]
CMD ["reverse"]

# A type of your own (workers.json "module"): the worker image plus the module's folder, at
# /app/own/<folder>; npm run compose sets TASK_DIR and TASKMESH_WORKER_MODULE for each such type.
# A folder with a package.json gets its own dependencies installed beside the module, from its
# package-lock.json when it has one (the host's node_modules never enter the build context).
FROM worker AS worker-own
ARG TASK_DIR=examples
COPY --chown=10001:10001 ${TASK_DIR}/ /app/own/${TASK_DIR}/
WORKDIR /app/own/${TASK_DIR}
RUN if [ -f package.json ]; then \
      if [ -f package-lock.json ]; then npm ci --omit=dev --ignore-scripts --no-audit --no-fund --cache /tmp/own-npm-cache; \
      else npm install --omit=dev --ignore-scripts --no-audit --no-fund --cache /tmp/own-npm-cache; fi \
      && node -e "require('fs').rmSync('/tmp/own-npm-cache', { recursive: true, force: true })"; \
    fi
WORKDIR /app

FROM runtime AS dispatcher
# The task journal; docker-compose.yml mounts a named volume here.
ENV TASKMESH_JOURNAL_PATH=/app/data/journal
EXPOSE 7200
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "devtools/dist/healthcheck-main.js", "dispatcher"]
CMD ["node", "dispatcher/dist/main.js"]
