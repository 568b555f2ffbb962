import Docker from 'dockerode';
import {
  DEFAULT_PORTS,
  createLogger,
  envBool,
  envInt,
  envList,
  envLogLevel,
  envOptionalString,
  envPort,
  envString,
  exitOnSignals,
  httpLimitsEnvSpec,
  httpLimitsOf,
  loadConfigOrExit,
  logReady,
  openApiCheckOrExit,
  runMain,
  secretOrExit,
} from '@taskmesh/shared';
import { z } from 'zod';
import { MONITORING_DEFAULTS, createMonitoring } from './monitoring.js';
import { dropPrivileges } from './privileges.js';

/** The monitoring process: reads TASKMESH_* variables, starts serving, closes cleanly on a signal. */
const spec = {
  port: { env: 'TASKMESH_MONITORING_PORT', schema: envPort(DEFAULT_PORTS.monitoring) },
  host: { env: 'TASKMESH_MONITORING_HOST', schema: envString('0.0.0.0') },
  nameserviceUrl: { env: 'TASKMESH_NAMESERVICE_URL', schema: envString(`http://127.0.0.1:${DEFAULT_PORTS.nameservice}`) },
  dispatcherUrl: { env: 'TASKMESH_DISPATCHER_URL', schema: envString(`http://127.0.0.1:${DEFAULT_PORTS.dispatcher}`) },
  runnerStateFile: { env: 'TASKMESH_RUNNER_STATE_FILE', schema: envOptionalString() },
  composeProject: { env: 'TASKMESH_COMPOSE_PROJECT', schema: envOptionalString() },
  apiToken: { env: 'TASKMESH_API_TOKEN', schema: envOptionalString() },
  allowedHosts: { env: 'TASKMESH_ALLOWED_HOSTS', schema: envList() },
  allowedOrigins: { env: 'TASKMESH_ALLOWED_ORIGINS', schema: envList() },
  maxClients: { env: 'TASKMESH_MONITORING_MAX_CLIENTS', schema: envInt(MONITORING_DEFAULTS.maxClients, 1, 100_000) },
  clientBufferBytes: { env: 'TASKMESH_MONITORING_CLIENT_BUFFER_BYTES', schema: envInt(MONITORING_DEFAULTS.clientBufferBytes, 64 * 1024) },
  bufferBytes: { env: 'TASKMESH_MONITORING_BUFFER_BYTES', schema: envInt(MONITORING_DEFAULTS.bufferBytes, 64 * 1024) },
  ...httpLimitsEnvSpec,
  pollIntervalMs: { env: 'TASKMESH_MONITORING_POLL_MS', schema: envInt(MONITORING_DEFAULTS.pollIntervalMs, 100, 60_000) },
  imageFps: { env: 'TASKMESH_MONITORING_IMAGE_FPS', schema: envInt(MONITORING_DEFAULTS.imageFps, 1, 30) },
  /** Read by dockerode itself (unix://, tcp://, npipe://); here only to log where it points. */
  dockerHost: { env: 'DOCKER_HOST', schema: envString('unix:///var/run/docker.sock') },
  /** Overrides the group joined for the socket (the socket's own group by default). */
  dockerGid: { env: 'DOCKER_GID', schema: z.coerce.number().int().min(0).max(4_294_967_294).optional() },
  /** `uid:gid` to become after joining the socket's group, when started as root (the image sets it). */
  runAs: {
    env: 'TASKMESH_RUN_AS',
    schema: z
      .string()
      .regex(/^\d+:\d+$/, 'uid:gid, e.g. 10001:10001')
      .transform((v) => v.split(':').map(Number) as [number, number])
      .optional(),
  },
  chaos: { env: 'TASKMESH_CHAOS', schema: envBool(false) },
  logLevel: { env: 'TASKMESH_LOG_LEVEL', schema: envLogLevel() },
};

async function main(): Promise<void> {
  const config = loadConfigOrExit('monitoring', spec);
  const openApi = openApiCheckOrExit('monitoring');
  const logger = createLogger({ service: 'monitoring', level: config.logLevel });
  if (openApi !== undefined) logger.warn(openApi, { event: 'open-api' });
  // Before anything is served: the image starts as root only to join the socket's group.
  const privileges =
    config.runAs === undefined
      ? undefined
      : dropPrivileges({ dockerHost: config.dockerHost, overrideGid: config.dockerGid, uid: config.runAs[0], gid: config.runAs[1] });
  if (privileges?.dropped === true) {
    logger.info("joined the Docker socket's group and dropped root", {
      event: 'privileges-dropped',
      uid: privileges.uid,
      gid: privileges.gid,
      groups: privileges.groups,
    });
  }
  let docker: Docker | null;
  try {
    // With no options dockerode honours DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH.
    docker = new Docker();
  } catch (err) {
    logger.warn(`DOCKER_HOST unusable, running without Docker: ${(err as Error).message}`);
    docker = null;
  }
  const monitoring = await createMonitoring({
    host: config.host,
    port: config.port,
    nameserviceUrl: config.nameserviceUrl,
    dispatcherUrl: config.dispatcherUrl,
    docker,
    composeProject: config.composeProject,
    runnerStateFile: config.runnerStateFile ?? null,
    apiToken: config.apiToken,
    allowedHosts: config.allowedHosts,
    allowedOrigins: config.allowedOrigins,
    maxClients: config.maxClients,
    clientBufferBytes: config.clientBufferBytes,
    bufferBytes: config.bufferBytes,
    ...httpLimitsOf(config),
    pollIntervalMs: config.pollIntervalMs,
    imageFps: config.imageFps,
    // With the secret, a worker container's `die` is reported to the nameservice at once (failover).
    secret: process.env.TASKMESH_SECRET ? secretOrExit('monitoring').secret : undefined,
    chaos: config.chaos,
    logger,
  });

  exitOnSignals({ logger, close: () => monitoring.close() });
  if (config.apiToken === undefined)
    logger.warn('TASKMESH_API_TOKEN is not set: the dashboard and its API are open to anyone who can reach the port');
  logReady(logger, { http: monitoring.port, docker: monitoring.dockerConnected, dockerHost: config.dockerHost });
}

runMain('monitoring', main);
