import { isAbsolute, relative, sep } from 'node:path';
import { Document, isPair, isScalar, isSeq, visit } from 'yaml';
import { workerEnv, type WorkersConfig } from './workers-config.js';

/**
 * Generates the container deployment from workers.json:
 * - `docker-compose.yml` for Docker Compose (v2 `docker compose` and v1.29 `docker-compose`):
 *   builds the images, waits for health where the order matters (long-form depends_on);
 * - `docker-stack.yml` for `docker stack deploy` on a Swarm, which rejects long-form depends_on
 *   and ignores `build:`: the same services from the pre-built `taskmesh/<svc>:local` images.
 * Start order does not matter for correctness (workers retry registration), only for quiet logs.
 */

export const COMPOSE_FILE = 'docker-compose.yml';
export const STACK_FILE = 'docker-stack.yml';
export const DEFAULT_NODE_IMAGE = 'node:20-bookworm-slim';

type Yaml = Record<string, unknown>;
type Flavour = 'compose' | 'stack';

const image = (target: string): string => `taskmesh/${target}:local`;

const build = (target: string): Yaml => ({
  context: '.',
  target,
  args: { NODE_IMAGE: `\${NODE_IMAGE:-${DEFAULT_NODE_IMAGE}}` },
});

const healthcheck = (target: string, startPeriod: string): Yaml => ({
  test: ['CMD', 'node', 'devtools/dist/healthcheck-main.js', target],
  interval: '5s',
  timeout: '5s',
  retries: 5,
  start_period: startPeriod,
});

/**
 * Variables every service shares. There is no default secret: without TASKMESH_SECRET (in .env or
 * the shell) Compose stops before starting anything, with this message. `docker stack deploy` has
 * no `:?`: there each service refuses to start, naming the variable.
 */
const SECRET_REQUIRED = 'set TASKMESH_SECRET to a secret of at least 32 characters, see the README, With Docker';
const commonEnv = (flavour: Flavour): Yaml => ({
  TASKMESH_SECRET: flavour === 'compose' ? `\${TASKMESH_SECRET:?${SECRET_REQUIRED}}` : '${TASKMESH_SECRET}',
  TASKMESH_LOG_LEVEL: '${TASKMESH_LOG_LEVEL:-info}',
  TASKMESH_NAMESERVICE_URL: 'http://nameservice:7100',
});

/** depends_on: long form with conditions for Compose, absent for Swarm (services retry). */
function dependsOn(flavour: Flavour, on: Record<string, 'service_healthy' | 'service_started'>): Yaml {
  if (flavour === 'stack') return {};
  return { depends_on: Object.fromEntries(Object.entries(on).map(([svc, condition]) => [svc, { condition }])) };
}

/**
 * Published ports. Swarm gets host-mode ports and DNS round-robin endpoints: the routing mesh
 * and service VIPs need IPVS in the kernel, which many small VMs lack, and a worker must
 * register an address that the dispatcher reaches directly anyway.
 */
/**
 * Where a service's port is published, for the service to refuse an open API there
 * (openApiCheckOrExit): the Compose publish address, or every interface under Swarm.
 */
const publishedOn = (flavour: Flavour): string => (flavour === 'compose' ? '${TASKMESH_PUBLISH_ADDRESS:-127.0.0.1}' : '0.0.0.0');

/**
 * Docker's json-file log, rotated: every service logs JSON lines, and a flood of refused
 * requests must not fill the host's disk (the services also rate-limit such warnings).
 */
const LOGGING: Yaml = { driver: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } };

function ports(flavour: Flavour, variable: string, port: number): Yaml {
  // Compose publishes on 127.0.0.1 unless TASKMESH_PUBLISH_ADDRESS says otherwise (0.0.0.0: every
  // interface). A Swarm cannot bind a published port to an address: the stack publishes on all.
  if (flavour === 'compose') return { ports: [`\${TASKMESH_PUBLISH_ADDRESS:-127.0.0.1}:\${${variable}:-${port}}:${port}`] };
  return { ports: [{ target: port, published: `\${${variable}:-${port}}`, protocol: 'tcp', mode: 'host' }] };
}

/** Compose-only keys (build, restart) or their Swarm equivalents (deploy). */
function lifecycle(flavour: Flavour, target: string, replicas?: number, own?: { type: string; taskDir: string }): Yaml {
  if (flavour === 'compose') {
    return {
      build:
        own === undefined
          ? build(target)
          : { ...build('worker-own'), args: { ...(build('worker-own').args as Yaml), TASK_DIR: own.taskDir } },
      image: own === undefined ? image(target) : image(`worker-${own.type}`),
      restart: 'unless-stopped',
      ...(replicas === undefined ? {} : { deploy: { replicas } }),
    };
  }
  return {
    image: own === undefined ? image(target) : image(`worker-${own.type}`),
    deploy: {
      ...(replicas === undefined ? {} : { replicas }),
      endpoint_mode: 'dnsrr',
      restart_policy: { condition: 'any', delay: '2s' },
      ...(target === 'monitoring' ? { placement: { constraints: ['node.role == manager'] } } : {}),
    },
  };
}

/** A module that cannot go into an image (outside the folder images are built from): said plainly, naming the entry. */
export class UnsupportedInComposeError extends Error {}

/**
 * Where a type's own module goes in its image: its folder (with what the module imports from
 * there) is copied to /app/own/<folder> by the Dockerfile's worker-own target.
 */
function ownModule(type: string, module: string, root: string): { taskDir: string; path: string } {
  const rel = relative(root, module);
  if (rel.startsWith('..') || isAbsolute(rel)) {
    throw new UnsupportedInComposeError(
      `workers.json: workers.${type}.module: ${module} is outside ${root}, the folder the images are built from; move it inside`,
    );
  }
  const posix = rel.split(sep).join('/');
  const slash = posix.lastIndexOf('/');
  return { taskDir: slash < 0 ? '.' : posix.slice(0, slash), path: `/app/own/${posix}` };
}

function services(workers: WorkersConfig, flavour: Flavour, root: string): Yaml {
  const out: Yaml = {
    nameservice: {
      ...lifecycle(flavour, 'nameservice'),
      environment: { ...commonEnv(flavour), TASKMESH_REGISTRY_FILE: '/app/data/registry.json' },
      volumes: ['nameservice-data:/app/data'],
      healthcheck: healthcheck('nameservice', '10s'),
      stop_grace_period: '15s',
      logging: LOGGING,
    },
    dispatcher: {
      ...lifecycle(flavour, 'dispatcher'),
      environment: {
        ...commonEnv(flavour),
        TASKMESH_API_TOKEN: '${TASKMESH_API_TOKEN:-}',
        TASKMESH_JOURNAL_PATH: '/app/data/journal',
        TASKMESH_JOURNAL_SYNC: '${TASKMESH_JOURNAL_SYNC:-process}',
        // Chaos controls: off unless TASKMESH_CHAOS=1; monitoring kills and pauses containers for them.
        TASKMESH_CHAOS: '${TASKMESH_CHAOS:-}',
        TASKMESH_CHAOS_CONTROL_URL: 'http://monitoring:7300',
        TASKMESH_PUBLISHED_ON: publishedOn(flavour),
        TASKMESH_ALLOW_OPEN_API: '${TASKMESH_ALLOW_OPEN_API:-}',
      },
      // The task journal: accepted tasks survive the container.
      volumes: ['dispatcher-data:/app/data'],
      ...ports(flavour, 'TASKMESH_DISPATCHER_PUBLISH', 7200),
      ...dependsOn(flavour, { nameservice: 'service_healthy' }),
      healthcheck: healthcheck('dispatcher', '10s'),
      stop_grace_period: '15s',
      logging: LOGGING,
    },
    monitoring: {
      ...lifecycle(flavour, 'monitoring'),
      environment: {
        ...commonEnv(flavour),
        TASKMESH_DISPATCHER_URL: 'http://dispatcher:7200',
        TASKMESH_API_TOKEN: '${TASKMESH_API_TOKEN:-}',
        TASKMESH_CHAOS: '${TASKMESH_CHAOS:-}',
        // Unset: monitoring joins the group that owns the mounted socket by itself, then drops root.
        DOCKER_GID: '${DOCKER_GID:-}',
        TASKMESH_PUBLISHED_ON: publishedOn(flavour),
        TASKMESH_ALLOW_OPEN_API: '${TASKMESH_ALLOW_OPEN_API:-}',
      },
      volumes: ['/var/run/docker.sock:/var/run/docker.sock:ro'],
      ...ports(flavour, 'TASKMESH_MONITORING_PUBLISH', 7300),
      ...dependsOn(flavour, { nameservice: 'service_healthy', dispatcher: 'service_healthy' }),
      healthcheck: healthcheck('monitoring', '10s'),
      stop_grace_period: '15s',
      logging: LOGGING,
    },
  };
  for (const [type, spec] of Object.entries(workers.workers)) {
    const own = spec.module === undefined ? undefined : ownModule(type, spec.module, root);
    out[`worker-${type}`] = {
      ...lifecycle(flavour, 'worker', spec.replicas, own === undefined ? undefined : { type, taskDir: own.taskDir }),
      command: [type],
      environment: { ...commonEnv(flavour), ...workerEnv(spec), ...(own === undefined ? {} : { TASKMESH_WORKER_MODULE: own.path }) },
      ...dependsOn(flavour, { nameservice: 'service_healthy' }),
      healthcheck: healthcheck('worker', '15s'),
      // Long enough to finish queued tasks after SIGTERM before Docker sends SIGKILL.
      stop_grace_period: '30s',
      logging: LOGGING,
    };
  }
  return out;
}

/** The Compose document: no `version` key (Compose specification, read by v2 and v1.27+). */
export function composeDocument(workers: WorkersConfig, root = process.cwd()): Yaml {
  return { services: services(workers, 'compose', root), volumes: { 'nameservice-data': {}, 'dispatcher-data': {} } };
}

/** The Swarm document; `docker stack deploy` still wants a 3.x version key. */
export function stackDocument(workers: WorkersConfig, root = process.cwd()): Yaml {
  return { version: '3.8', services: services(workers, 'stack', root), volumes: { 'nameservice-data': {}, 'dispatcher-data': {} } };
}

const HEADERS: Record<Flavour, string> = {
  compose: [
    ' Generated by `npm run compose` from workers.json: edit workers.json, not this file.',
    ' docker compose up -d --build     (or docker-compose up -d --build)',
    ' Scale a type: docker compose up -d --scale worker-reverse=3',
    ' Variables (shell or .env): TASKMESH_SECRET, TASKMESH_API_TOKEN, TASKMESH_LOG_LEVEL, NODE_IMAGE,',
    " DOCKER_GID (optional: the group monitoring joins for the Docker socket, the socket's own by default),",
    ' TASKMESH_DISPATCHER_PUBLISH / _MONITORING_PUBLISH, TASKMESH_CHAOS (1: chaos controls on; off by default),',
    ' TASKMESH_PUBLISH_ADDRESS (default 127.0.0.1; 0.0.0.0 publishes on every interface). TASKMESH_SECRET is required;',
    ' published beyond loopback, so is TASKMESH_API_TOKEN (or TASKMESH_ALLOW_OPEN_API=1 on a network you trust).',
  ].join('\n'),
  stack: [
    ' Generated by `npm run compose` from workers.json: edit workers.json, not this file.',
    ' Swarm variant of docker-compose.yml: build the images first (docker compose build), then',
    ' docker stack deploy --resolve-image never -c docker-stack.yml taskmesh   (variables come from the shell, not .env)',
    ' Ports are published in host mode and services use DNS round robin: no routing mesh (IPVS) needed.',
    ' Swarm publishes on every interface: the dispatcher and monitoring refuse to start without TASKMESH_API_TOKEN',
    ' (or TASKMESH_ALLOW_OPEN_API=1 on a network you trust). The overlay network is not encrypted (see the README).',
  ].join('\n'),
};

/** Renders a document as YAML with its header comment. */
export function renderYaml(doc: Yaml, flavour: Flavour): string {
  const d = new Document(doc, { aliasDuplicateObjects: false });
  d.commentBefore = HEADERS[flavour];
  // Commands read best on one line: test: [CMD, node, ...].
  visit(d, {
    Pair(_key, pair) {
      if (isPair(pair) && isScalar(pair.key) && ['test', 'command'].includes(String(pair.key.value)) && isSeq(pair.value)) {
        pair.value.flow = true;
      }
    },
  });
  return d.toString({ lineWidth: 0 });
}

/** Both files, by name. */
export function generateDeployment(workers: WorkersConfig, root = process.cwd()): Record<string, string> {
  return {
    [COMPOSE_FILE]: renderYaml(composeDocument(workers, root), 'compose'),
    [STACK_FILE]: renderYaml(stackDocument(workers, root), 'stack'),
  };
}
