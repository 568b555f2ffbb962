import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import {
  RequestGuard,
  RequestVerifier,
  createHttpServer,
  createServiceMetrics,
  nameserviceKey,
  httpLimitsOf,
  type HttpLimits,
  type Logger,
} from '@taskmesh/shared';
import { NAMESERVICE_DEFAULTS, SWEEP_INTERVAL_MS } from './constants.js';
import { createHttpApp } from './http-app.js';
import { PersistScheduler } from './persist-scheduler.js';
import { RegistryStore, type LoadSource } from './registry-store.js';
import { RegistryWatchers } from './registry-watchers.js';
import { WorkerRegistry, type RegistryEvent } from './worker-registry.js';

/**
 * Wires the nameservice: registry core + file store + coalesced writes + sweep timer + HTTP.
 * Used by main.ts and by tests, which start it in-process on port 0 with a temp file.
 */
export interface NameserviceOptions extends Partial<HttpLimits> {
  registryFile: string;
  /** TASKMESH_SECRET: registrations, heartbeats and deregistrations must be signed with it. */
  secret: string;
  /** Most entries the registry holds (MAX_WORKERS by default). */
  maxWorkers?: number;
  /** Most open signed watch streams (MAX_WATCHERS by default). */
  maxWatchers?: number;
  /** Most open unsigned watch streams, in all and per client. */
  maxUnsignedWatchers?: number;
  maxUnsignedWatchersPerClient?: number;
  /** Host names and browser origins accepted besides the defaults (see RequestGuard). */
  allowedHosts?: readonly string[];
  allowedOrigins?: readonly string[];
  /** 0 picks a free port; NAMESERVICE_DEFAULTS.port by default. */
  port?: number;
  host?: string;
  logger: Logger;
  /** Milliseconds since the epoch for leases; Date.now by default. */
  clock?: () => number;
  sweepIntervalMs?: number;
}

export interface Nameservice {
  readonly port: number;
  readonly host: string;
  /** http://<host>:<port>, with 127.0.0.1 for a wildcard host. */
  readonly url: string;
  readonly registry: WorkerRegistry;
  /** Where the registry came from at start-up. */
  readonly loadedFrom: LoadSource;
  /** Writes any pending registry change to disk now. */
  flush(): Promise<void>;
  /** Stops accepting requests, stops the sweep and writes the registry a last time. Idempotent. */
  close(): Promise<void>;
}

export async function createNameservice(options: NameserviceOptions): Promise<Nameservice> {
  const logger = options.logger;
  const clock = options.clock ?? Date.now;
  const store = new RegistryStore({ path: options.registryFile, logger: logger.child({ module: 'store' }) });

  // The registry reports changes; the scheduler turns them into coalesced writes.
  const scheduler = new PersistScheduler({
    write: () => store.save(registry.snapshot(), clock()),
    logger: logger.child({ module: 'persist' }),
  });
  const watchers = new RegistryWatchers({
    ...(options.maxWatchers === undefined ? {} : { signed: options.maxWatchers }),
    ...(options.maxUnsignedWatchers === undefined ? {} : { unsigned: options.maxUnsignedWatchers }),
    ...(options.maxUnsignedWatchersPerClient === undefined ? {} : { unsignedPerClient: options.maxUnsignedWatchersPerClient }),
  });
  const onEvent = (event: RegistryEvent): void => {
    if (event.kind === 'expired' || event.kind === 'removed' || event.kind === 'revived' || event.kind === 'replaced') {
      logger.info(`worker ${event.kind}`, { event: `worker-${event.kind}`, worker: event.name });
    }
    scheduler.markDirty(event.membership);
    const at = clock();
    if (event.kind === 'registered' || event.kind === 'replaced' || event.kind === 'revived')
      watchers.publish({ kind: 'up', at, name: event.name, type: event.type });
    else if (event.kind === 'deregistered' || event.kind === 'expired')
      watchers.publish({
        kind: 'down',
        at,
        name: event.name,
        type: event.type,
        cause: event.reported ? 'reported' : event.kind,
        reason: event.reason,
      });
  };
  const registry = new WorkerRegistry({ clock, onEvent, ...(options.maxWorkers === undefined ? {} : { maxWorkers: options.maxWorkers }) });
  const loaded = await store.load();
  registry.restore(loaded.workers);
  if (loaded.workers.length > 0)
    logger.info(`restored ${loaded.workers.length} workers as suspect`, {
      event: 'restored',
      count: loaded.workers.length,
      source: loaded.source,
    });
  // A fallback is written back at once, so the damaged file does not stay the main one.
  if (loaded.source === 'backup') scheduler.markDirty(true);

  const sweep = setInterval(() => registry.sweep(), options.sweepIntervalMs ?? SWEEP_INTERVAL_MS);
  sweep.unref();

  const { server, guard: http } = createHttpServer(httpLimitsOf(options));
  server.on(
    'request',
    createHttpApp({
      registry,
      verifier: new RequestVerifier(nameserviceKey(options.secret), { clock }),
      watchers,
      http,
      guard: new RequestGuard({ allowedHosts: options.allowedHosts ?? [], allowedOrigins: options.allowedOrigins ?? [] }),
      metrics: createServiceMetrics(http, 'taskmesh_nameservice', [
        {
          name: 'taskmesh_nameservice_watches_refused_total',
          help: 'Watch streams refused for want of a slot (TASKMESH_NAMESERVICE_MAX_*WATCHERS*)',
          read: () => watchers.refused.signed + watchers.refused.unsigned,
        },
      ]),
      logger: logger.child({ module: 'http' }),
    }),
  );
  const host = options.host ?? NAMESERVICE_DEFAULTS.host;
  server.listen(options.port ?? NAMESERVICE_DEFAULTS.port, host);
  try {
    await once(server, 'listening');
  } catch (err) {
    clearInterval(sweep);
    watchers.close();
    await scheduler.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(sweep);
      watchers.close();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      // Idle keep-alive sockets would hold close() open for seconds.
      server.closeIdleConnections();
      const forced = setTimeout(() => server.closeAllConnections(), 2000);
      await stopped;
      clearTimeout(forced);
      await scheduler.close();
    })();
    return closing;
  };

  return {
    port,
    host,
    url: `http://${urlHost.includes(':') ? `[${urlHost}]` : urlHost}:${port}`,
    registry,
    loadedFrom: loaded.source,
    flush: () => scheduler.flush(),
    close,
  };
}
