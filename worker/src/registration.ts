import {
  HEARTBEAT_INTERVAL_MS,
  backoffDelay,
  delay,
  silentLogger,
  toTaskmeshError,
  type BackoffPolicy,
  type LoadReport,
  type Logger,
  type NameserviceClient,
  type RegisterRequest,
  type WorkerRecord,
} from '@taskmesh/shared';

/** Registration retries: quick at first so start order barely matters, then every few seconds. */
export const REGISTER_BACKOFF: BackoffPolicy = { initialDelayMs: 200, maxDelayMs: 5000, factor: 2, jitter: 0.2 };

export interface RegistrationOptions {
  client: NameserviceClient;
  /** Builds the registration; called for every attempt, as the advertise address may change. */
  request: () => Promise<RegisterRequest> | RegisterRequest;
  /** The current load, sent with every heartbeat. */
  load: () => LoadReport;
  logger?: Logger;
  heartbeatIntervalMs?: number;
  backoff?: BackoffPolicy;
  /** After each successful registration; `first` is false for re-registrations. */
  onRegistered?: (worker: WorkerRecord, first: boolean) => void;
}

/**
 * Keeps a worker registered at the nameservice: registers (retrying with backoff until it
 * answers), heartbeats every interval with the load, and registers again when a heartbeat is
 * answered 'unknown' (the nameservice restarted without its file, or expired the lease).
 */
export class Registration {
  private readonly options: RegistrationOptions;
  private readonly logger: Logger;
  private readonly intervalMs: number;
  private readonly backoff: BackoffPolicy;
  private readonly stopper = new AbortController();
  private loop: Promise<void> | undefined;
  private name: string | undefined;
  private registrations = 0;
  private heartbeats = 0;
  private firstResolve!: (worker: WorkerRecord) => void;
  private firstReject!: (err: unknown) => void;
  /** Resolves with the record of the first successful registration; rejects if stopped before. */
  readonly registered: Promise<WorkerRecord>;

  constructor(options: RegistrationOptions) {
    this.options = options;
    this.logger = options.logger ?? silentLogger();
    this.intervalMs = options.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS;
    this.backoff = options.backoff ?? REGISTER_BACKOFF;
    this.registered = new Promise((resolve, reject) => {
      this.firstResolve = resolve;
      this.firstReject = reject;
    });
    this.registered.catch(() => undefined);
  }

  /** Starts the loop; returns `registered`. */
  start(): Promise<WorkerRecord> {
    this.loop ??= this.run().catch((err: unknown) => {
      if (!this.stopper.signal.aborted) this.logger.error(`registration loop failed: ${toTaskmeshError(err).message}`);
    });
    return this.registered;
  }

  stats(): { registrations: number; heartbeats: number } {
    return { registrations: this.registrations, heartbeats: this.heartbeats };
  }

  /**
   * Stops heartbeating and waits for any request in flight, so a late registration cannot land
   * after the deregistration; then deregisters when asked to.
   */
  async stop(options: { deregister: boolean }): Promise<void> {
    this.stopper.abort();
    this.firstReject(new Error('registration stopped'));
    await this.loop;
    if (options.deregister && this.name !== undefined) {
      await this.options.client.deregister(this.name);
      this.logger.info('deregistered', { event: 'deregistered', name: this.name });
    }
  }

  private async run(): Promise<void> {
    const signal = this.stopper.signal;
    let registered = false;
    let registerFailures = 0;
    let heartbeatFailures = 0;
    let nextBeat = 0;
    // Each round either registers or heartbeats once and then sleeps, until stopped.
    while (!signal.aborted) {
      if (!registered) {
        try {
          const request = await this.options.request();
          if (signal.aborted) return;
          const lease = await this.options.client.register(request);
          if (signal.aborted) return;
          registered = true;
          this.name = request.name;
          this.registrations += 1;
          registerFailures = 0;
          this.logger.info(this.registrations === 1 ? 'registered' : 're-registered', {
            event: 'registered',
            name: request.name,
            host: request.host,
            port: request.port,
            ttlMs: lease.lease.ttlMs,
          });
          this.options.onRegistered?.(lease.worker, this.registrations === 1);
          if (this.registrations === 1) this.firstResolve(lease.worker);
          nextBeat = performance.now() + this.intervalMs;
        } catch (err) {
          const wait = backoffDelay(this.backoff, registerFailures);
          registerFailures += 1;
          const log = registerFailures === 1 || registerFailures % 10 === 0 ? 'warn' : 'debug';
          this.logger[log](`registration failed (attempt ${registerFailures}), retrying in ${wait} ms: ${toTaskmeshError(err).message}`);
          await delay(wait, signal).catch(() => undefined);
          continue;
        }
      }
      // Fixed cadence: a slow heartbeat does not push the next one later.
      await delay(Math.max(0, nextBeat - performance.now()), signal).catch(() => undefined);
      if (signal.aborted) return;
      nextBeat = Math.max(nextBeat + this.intervalMs, performance.now());
      const load = this.options.load();
      try {
        const answer = await this.options.client.heartbeat(this.name!, {
          queued: load.queued,
          inFlight: load.inFlight,
          capacity: load.capacity,
        });
        if (signal.aborted) return;
        this.heartbeats += 1;
        if (heartbeatFailures > 0) this.logger.info(`heartbeat restored after ${heartbeatFailures} failures`);
        heartbeatFailures = 0;
        if (answer === 'unknown') {
          this.logger.warn('the nameservice does not know this worker (lease expired or registry lost): registering again', {
            event: 'lease-lost',
          });
          registered = false;
        }
      } catch (err) {
        heartbeatFailures += 1;
        const log = heartbeatFailures === 1 || heartbeatFailures % 10 === 0 ? 'warn' : 'debug';
        this.logger[log](`heartbeat failed (${heartbeatFailures} in a row): ${toTaskmeshError(err).message}`);
      }
    }
  }
}
