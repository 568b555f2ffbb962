import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { NAMESERVICE_KEY_PURPOSE, RequestVerifier, deriveKey, type Logger } from '@taskmesh/shared';
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
export interface NameserviceOptions {
  registryFile: string;
  /** TASKMESH_SECRET: registrations, heartbeats and deregistrations must be signed with it. */
  secret: string;
  /** Most entries the registry holds (MAX_WORKERS by default). */
  maxWorkers?: number;
  /** Most open watch streams (MAX_WATCHERS by default). */
  maxWatchers?: number;
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
  const watchers = new RegistryWatchers(options.maxWatchers);
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

  const server: Server = createServer(
    createHttpApp({
      registry,
      verifier: new RequestVerifier(deriveKey(options.secret, NAMESERVICE_KEY_PURPOSE), clock),
      watchers,
      logger: logger.child({ module: 'http' }),
    }),
  );
  server.on('clientError', (_err, socket) => socket.destroy());
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
