import { delay, isFinalStatus, type TaskRecord, type TaskStatus } from '@taskmesh/shared';
import type { ApiClient } from './api-client.js';
import { EXIT, CliError } from './exit-codes.js';
import { EventStream } from './event-stream.js';

/** How often waits fall back to polling when the event stream is not available. */
const POLL_MIN_MS = 100;
const POLL_MAX_MS = 1000;
/** With events flowing, a wait that saw no task end for this long re-checks by GET, in case an event was missed. */
const RECONCILE_MS = 5000;

export interface WaitOptions {
  /** Give up after this long (CliError, exit 3); undefined waits until the task ends. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

const FINAL_EVENTS = ['succeeded', 'failed', 'cancelled'] as const;

const giveUp = (what: string, ms: number): CliError => new CliError(EXIT.UNAVAILABLE, `gave up waiting for ${what} after ${ms} ms`);

/**
 * Waits until a task has ended and returns its final record. Subscribes to the task's events
 * first and then reads the record, so an end between the two is never missed; polls by GET if
 * the event stream cannot be opened or drops.
 */
export async function waitForTask(api: ApiClient, id: string, options: WaitOptions = {}): Promise<TaskRecord> {
  await waitForTasks(api, [id], options);
  return api.getTask(id);
}

/**
 * Tracks the final status of many tasks from the event stream. Open it BEFORE submitting, so an
 * event that arrives before the submission's answer is kept; `waitFor(ids)` then resolves once
 * every id has ended.
 */
export class CompletionTracker {
  /** Final status by task id, for every final event seen (ids not asked for too). */
  readonly finals = new Map<string, TaskStatus>();
  private stream: EventStream | undefined;
  /** Ids that became final since a waiter last looked, so a wake costs O(new) not O(pending). */
  private fresh: string[] = [];
  private wake: (() => void) | undefined;
  private wakeScheduled = false;
  /** `untilEnded` callers: resolved once `finals.size` reaches their count, or the stream closes. */
  private countWaiters: { count: number; resolve: () => void }[] = [];
  /** Events were missed (the stream said so): the next turn reads the pending tasks by GET. */
  private gap = false;

  constructor(
    private readonly api: ApiClient,
    private readonly type?: string,
  ) {}

  /** Subscribes to events; a stream that cannot be opened leaves the tracker polling. */
  async start(taskId?: string): Promise<void> {
    try {
      // Only the ends matter here: a third of the events, for the dispatcher to send and us to parse.
      this.stream = await EventStream.open({
        baseUrl: this.api.baseUrl,
        token: this.api.token,
        type: this.type,
        taskId,
        events: FINAL_EVENTS,
        batch: true,
        // A dispatcher that restarts, or closes us for being slow, is followed from where we were.
        resume: true,
      });
    } catch {
      this.stream = undefined;
      return;
    }
    this.stream.onGap(() => {
      // Events were missed beyond the dispatcher's log: the tasks' state says how they ended.
      this.gap = true;
      this.wake?.();
    });
    this.stream.onEvent((e) => {
      if (!isFinalStatus(e.status) || (e.event !== 'succeeded' && e.event !== 'failed' && e.event !== 'cancelled')) return;
      this.finals.set(e.taskId, e.status);
      this.fresh.push(e.taskId);
      // Many events arrive per socket read: wake the waiter once for all of them.
      if (!this.wakeScheduled) {
        this.wakeScheduled = true;
        setImmediate(() => {
          this.wakeScheduled = false;
          this.wake?.();
          this.releaseCountWaiters(false);
        });
      }
    });
    void this.stream.closed.then(() => {
      this.wake?.();
      this.releaseCountWaiters(true);
    });
  }

  /**
   * Resolves once the stream has reported `count` distinct tasks ended (any task of the tracked
   * type), or at once when no stream is open: the flow control of a submitter that keeps a bounded
   * number of tasks outstanding. Without events it cannot tell, so it does not hold anyone back.
   */
  untilEnded(count: number): Promise<void> {
    if (this.finals.size >= count || !(this.stream?.isOpen ?? false)) return Promise.resolve();
    return new Promise((resolve) => this.countWaiters.push({ count, resolve }));
  }

  private releaseCountWaiters(all: boolean): void {
    if (this.countWaiters.length === 0) return;
    const size = this.finals.size;
    this.countWaiters = this.countWaiters.filter((w) => {
      if (!all && w.count > size) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves when every id has a final status; `onProgress` gets the count done so far. */
  async waitFor(
    ids: readonly string[],
    options: WaitOptions & { onProgress?: (done: number) => void; initialCheck?: boolean } = {},
  ): Promise<Map<string, TaskStatus>> {
    const started = Date.now();
    const result = new Map<string, TaskStatus>();
    const pending = new Set<string>();
    for (const id of ids) {
      const s = this.finals.get(id);
      if (s === undefined) pending.add(id);
      else result.set(id, s);
    }
    this.fresh = [];
    let lastProgress = started;
    const collect = (): void => {
      const before = pending.size;
      const fresh = this.fresh;
      this.fresh = [];
      for (const id of fresh) {
        if (pending.delete(id)) result.set(id, this.finals.get(id)!);
      }
      if (pending.size < before) lastProgress = Date.now();
      options.onProgress?.(ids.length - pending.size);
    };
    collect();
    let lastCheck = options.initialCheck ? 0 : started;
    let pollDelay = POLL_MIN_MS;
    // The loop ends when all ids are final, on timeout, or on abort; each turn waits for an event or a timer.
    while (pending.size > 0) {
      if (options.signal?.aborted) throw options.signal.reason;
      const elapsed = Date.now() - started;
      if (options.timeoutMs !== undefined && elapsed >= options.timeoutMs)
        throw giveUp(ids.length === 1 ? `task ${ids[0]}` : `${pending.size} of ${ids.length} tasks`, options.timeoutMs);
      const streaming = this.stream?.isOpen ?? false;
      // With events flowing, check by GET only after a stall; without them, poll with growing gaps.
      const now = Date.now();
      const needCheck =
        this.gap || !streaming || lastCheck === 0 || (now - lastProgress >= RECONCILE_MS && now - lastCheck >= RECONCILE_MS);
      if (needCheck) {
        this.gap = false;
        await this.check(pending, result);
        lastCheck = Date.now();
        collect();
        if (pending.size === 0) break;
      }
      const wait = streaming ? RECONCILE_MS : pollDelay;
      if (!streaming) pollDelay = Math.min(POLL_MAX_MS, pollDelay * 2);
      const budget = options.timeoutMs === undefined ? wait : Math.max(1, Math.min(wait, options.timeoutMs - (Date.now() - started)));
      if (this.fresh.length === 0) await this.sleepUntilEvent(budget, options.signal);
      collect();
    }
    return result;
  }

  /** Closes the event stream. */
  async close(): Promise<void> {
    await this.stream?.close();
  }

  /** Reads pending tasks by GET (a few at a time) and records the ones that ended. */
  private async check(pending: Set<string>, result: Map<string, TaskStatus>): Promise<void> {
    const ids = [...pending];
    const CONCURRENCY = 16;
    for (let i = 0; i < ids.length; i += CONCURRENCY) {
      const records = await Promise.all(ids.slice(i, i + CONCURRENCY).map((id) => this.api.getTask(id)));
      for (const r of records) {
        if (isFinalStatus(r.status)) {
          this.finals.set(r.id, r.status);
          if (pending.delete(r.id)) result.set(r.id, r.status);
        }
      }
    }
  }

  private async sleepUntilEvent(ms: number, signal?: AbortSignal): Promise<void> {
    const controller = new AbortController();
    const onAbort = (): void => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    this.wake = () => controller.abort();
    try {
      await delay(ms, controller.signal);
    } catch {
      // woken by an event or aborted: the caller's loop looks at why
    } finally {
      this.wake = undefined;
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

/** Waits for several tasks with a fresh tracker: final status by id. */
export async function waitForTasks(api: ApiClient, ids: readonly string[], options: WaitOptions = {}): Promise<Map<string, TaskStatus>> {
  const tracker = new CompletionTracker(api);
  await tracker.start(ids.length === 1 ? ids[0] : undefined);
  try {
    // Subscribed just now: a task may have ended before, so read each once.
    return await tracker.waitFor(ids, { ...options, initialCheck: true });
  } finally {
    await tracker.close();
  }
}
