import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import {
  ChaosStatus,
  SINCE_TOO_OLD_CLOSE_CODE,
  TaskEvent,
  TaskListResponse,
  WorkerListResponse,
  answerError,
  backoffDelay,
  callService,
  eventsStartSeq,
  messageText,
  type LinkHealth,
  type Logger,
  type ServiceAnswer,
  type TaskListItem,
} from '@taskmesh/shared';
import { describeError, pollLoop, type UpstreamStatus } from './poll-loop.js';

/** What the tasks panel shows (without the event feed, which is its own topic). */
export interface TasksSnapshot extends UpstreamStatus {
  url: string;
  /** The dispatcher's GET /v1/stats answer as it came (see ARCHITECTURE.md "Dispatcher"). */
  stats: unknown;
  /** Failed tasks, newest first. */
  failed: TaskListItem[];
  /** Whether the /v1/events WebSocket is open. */
  eventsConnected: boolean;
}

export interface DispatcherSourceOptions {
  url: string;
  token?: string;
  intervalMs: number;
  logger: Logger;
}

/** The failed list is for a panel, not an archive. */
const MAX_FAILED_SHOWN = 50;
const REQUEST_TIMEOUT_MS = 3000;
const EVENTS_BACKOFF = { initialDelayMs: 250, maxDelayMs: 5000, factor: 2, jitter: 0.2 };

/**
 * The dispatcher as the dashboard sees it: polls GET /v1/stats and the failed tasks, keeps the
 * /v1/events WebSocket open (reconnecting with backoff) and relays each TaskEvent. Emits
 * `update` (TasksSnapshot) and `event` (TaskEvent).
 */
export class DispatcherSource extends EventEmitter<{ update: [TasksSnapshot]; event: [TaskEvent] }> {
  private state: TasksSnapshot;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private ws: WebSocket | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private eventRetries = 0;
  /** Events that did not parse; a dispatcher/monitoring version mismatch shows up here. */
  droppedEvents = 0;
  /** Times the dispatcher said events were missed beyond its log (the task list shows their state). */
  eventGaps = 0;
  private links = new Map<string, LinkHealth>();
  /** The dispatcher's chaos controls as of the last poll (the workers table shows them). */
  chaos: ChaosStatus = { enabled: false, supervisor: null, faults: [] };
  /** The seq of the last event relayed: a reconnect resumes after it. */
  private lastSeq: number | undefined;

  constructor(private readonly options: DispatcherSourceOptions) {
    super();
    this.state = {
      url: options.url,
      connected: false,
      error: 'not polled yet',
      since: Date.now(),
      stats: null,
      failed: [],
      eventsConnected: false,
    };
  }

  get snapshot(): TasksSnapshot {
    return this.state;
  }

  start(): void {
    if (this.loop) return;
    this.loop = pollLoop(() => this.poll(), { intervalMs: this.options.intervalMs, signal: this.abort.signal });
    this.connectEvents();
  }

  async close(): Promise<void> {
    this.abort.abort();
    clearTimeout(this.reconnectTimer);
    this.ws?.terminate();
    await this.loop;
  }

  /** How the dispatcher's link to each worker behaves (its GET /v1/workers), by worker name. */
  linkOf(name: string): LinkHealth | null {
    return this.links.get(name) ?? null;
  }

  /** The link figures of every worker; a dispatcher that cannot list its workers leaves the last ones. */
  private async readLinks(): Promise<void> {
    try {
      const parsed = WorkerListResponse.safeParse(await this.getJson('/v1/workers'));
      if (!parsed.success) return;
      this.links = new Map(parsed.data.workers.flatMap((w) => (w.link ? [[w.name, w.link] as const] : [])));
    } catch {
      // the nameservice may be down for the dispatcher: the task figures still count
    }
  }

  /** Whether the chaos controls are on and what is in force; an older dispatcher without them has none. */
  private async readChaos(): Promise<void> {
    try {
      const parsed = ChaosStatus.safeParse(await this.getJson('/v1/chaos'));
      if (parsed.success) this.chaos = parsed.data;
    } catch {
      // unreachable: the stats poll reports that
    }
  }

  /** GET `path` at the dispatcher (a task's trace or record, a search): its status and JSON body. */
  read(path: string): Promise<{ status: number; body: unknown }> {
    return this.call('GET', path);
  }

  /** POST `body` as JSON to `path` at the dispatcher (a bulk or chaos action); what it shows is read again at once. */
  async write(path: string, body: unknown): Promise<{ status: number; body: unknown }> {
    const answer = await this.call('POST', path, body ?? {});
    void this.poll();
    return answer;
  }

  /** Asks the dispatcher to run a failed task again; answers with the dispatcher's own status and body. */
  async retry(id: string): Promise<{ status: number; body: unknown }> {
    const answer = await this.call('POST', `/v1/tasks/${encodeURIComponent(id)}/retry`);
    // Refresh the failed list now so the retried task leaves it without waiting for the next poll.
    void this.poll();
    return answer;
  }

  /** One request to the dispatcher, its answer as status and parsed body (a non-JSON body said so). */
  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<ServiceAnswer> {
    const answer = await callService('dispatcher', {
      method,
      url: `${this.options.url}${path}`,
      body,
      headers: this.options.token ? { authorization: `Bearer ${this.options.token}` } : {},
      timeoutMs: REQUEST_TIMEOUT_MS,
    });
    if (typeof answer.body !== 'string') return { status: answer.status, body: answer.body ?? null };
    return {
      status: answer.status,
      body: { error: { code: 'UNAVAILABLE', message: `dispatcher answered HTTP ${answer.status} with non-JSON` } },
    };
  }

  private async getJson(path: string): Promise<unknown> {
    const answer = await this.call('GET', path);
    if (answer.status !== 200) throw answerError('dispatcher', `GET ${path}`, answer, this.options.url);
    return answer.body;
  }

  private async poll(): Promise<void> {
    try {
      const [stats, failedBody] = await Promise.all([
        this.getJson('/v1/stats'),
        this.getJson(`/v1/tasks?status=failed&limit=${MAX_FAILED_SHOWN}`),
        this.readLinks(),
        this.readChaos(),
      ]);
      const failed = TaskListResponse.safeParse(failedBody);
      if (!failed.success) throw new Error('GET /v1/tasks: answer does not match the task list schema');
      const list = [...failed.data.tasks]
        .sort((a, b) => (b.finishedAt ?? b.createdAt) - (a.finishedAt ?? a.createdAt))
        .slice(0, MAX_FAILED_SHOWN);
      if (!this.state.connected) this.options.logger.info('dispatcher reachable', { url: this.options.url });
      const { error: _previous, ...rest } = this.state;
      this.state = { ...rest, connected: true, since: this.state.connected ? this.state.since : Date.now(), stats, failed: list };
    } catch (err) {
      const error = describeError(err);
      if (this.state.connected || this.state.error !== error)
        this.options.logger.warn('dispatcher unreachable', { url: this.options.url, error });
      this.state = { ...this.state, connected: false, error, since: this.state.connected ? Date.now() : this.state.since };
    }
    if (!this.abort.signal.aborted) this.emit('update', this.state);
  }

  private connectEvents(): void {
    if (this.abort.signal.aborted) return;
    const url = new URL('/v1/events', this.options.url.replace(/^http/, 'ws'));
    // After a reconnect (the dispatcher restarted, or closed a slow reader): from the last event seen.
    if (this.lastSeq !== undefined) url.searchParams.set('since', String(this.lastSeq));
    const ws = new WebSocket(url, { headers: this.options.token ? { authorization: `Bearer ${this.options.token}` } : {} });
    this.ws = ws;
    // Nothing seen yet: a reconnect resumes from where this subscription began, missing nothing.
    ws.once('upgrade', (res) => (this.lastSeq ??= eventsStartSeq(res.headers)));
    ws.on('open', () => {
      this.eventRetries = 0;
      this.setEventsConnected(true);
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let parsed;
      try {
        parsed = TaskEvent.safeParse(JSON.parse(messageText(data)));
      } catch {
        parsed = undefined;
      }
      if (parsed?.success) {
        if (this.lastSeq !== undefined && parsed.data.seq <= this.lastSeq) return;
        this.lastSeq = parsed.data.seq;
        this.emit('event', parsed.data);
      } else this.droppedEvents += 1;
    });
    ws.on('error', () => undefined); // 'close' follows and schedules the reconnect
    ws.on('close', (code, reason) => {
      if (code === SINCE_TOO_OLD_CLOSE_CODE) {
        // The dispatcher's log no longer reaches back: the task list (polled) shows the state;
        // events go on from where the log begins.
        const resumeAt = Number(/since=(\d+)\s*$/.exec(reason.toString('utf8'))?.[1]);
        this.lastSeq = Number.isSafeInteger(resumeAt) ? resumeAt : undefined;
        this.eventGaps += 1;
      }
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.setEventsConnected(false);
      if (this.abort.signal.aborted) return;
      this.reconnectTimer = setTimeout(() => this.connectEvents(), backoffDelay(EVENTS_BACKOFF, this.eventRetries++));
    });
  }

  private setEventsConnected(value: boolean): void {
    if (this.state.eventsConnected === value) return;
    this.state = { ...this.state, eventsConnected: value };
    if (!this.abort.signal.aborted) this.emit('update', this.state);
  }
}
