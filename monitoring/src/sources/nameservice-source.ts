import { EventEmitter } from 'node:events';
import type { Logger, WorkerRecord } from '@taskmesh/shared';
import { describeError, pollLoop, type UpstreamStatus } from './poll-loop.js';

/** What the workers panel shows before it is joined with containers or processes. */
export interface NameserviceSnapshot extends UpstreamStatus {
  url: string;
  /** The last list read; kept (stale) while the nameservice is unreachable. */
  workers: WorkerRecord[];
}

export interface NameserviceSourceOptions {
  url: string;
  /** Reads every registry entry (NameserviceClient.list). */
  list: () => Promise<WorkerRecord[]>;
  intervalMs: number;
  logger: Logger;
}

/**
 * Polls the nameservice's worker list (the registry has no push API) and emits `update` with a
 * NameserviceSnapshot after every poll. Unreachable → `connected: false` with the reason; it
 * keeps polling and recovers by itself.
 */
export class NameserviceSource extends EventEmitter<{ update: [NameserviceSnapshot] }> {
  private state: NameserviceSnapshot;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(private readonly options: NameserviceSourceOptions) {
    super();
    this.state = { url: options.url, connected: false, error: 'not polled yet', since: Date.now(), workers: [] };
  }

  get snapshot(): NameserviceSnapshot {
    return this.state;
  }

  start(): void {
    this.loop ??= pollLoop(() => this.poll(), { intervalMs: this.options.intervalMs, signal: this.abort.signal });
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async poll(): Promise<void> {
    try {
      const workers = await this.options.list();
      if (!this.state.connected) this.options.logger.info('nameservice reachable', { url: this.options.url });
      this.state = { url: this.options.url, connected: true, since: this.state.connected ? this.state.since : Date.now(), workers };
    } catch (err) {
      const error = describeError(err);
      if (this.state.connected || this.state.error !== error)
        this.options.logger.warn('nameservice unreachable', { url: this.options.url, error });
      this.state = { ...this.state, connected: false, error, since: this.state.connected ? Date.now() : this.state.since };
    }
    if (!this.abort.signal.aborted) this.emit('update', this.state);
  }
}
