import type { WebSocket } from 'ws';
import { WsBudget } from './ws-budget.js';

/**
 * Fans updates out to the dashboard's WebSocket clients. Two kinds of topic:
 * - snapshot topics hold the latest state of one panel; a new value is pushed only when it
 *   differs from the last one, and a client that connects gets every current snapshot first;
 * - feed topics are streams of events; the hub keeps the most recent ones so a new client
 *   sees some history.
 * Every message on the wire is `{ topic, data, at }` (JSON text; `at` is the server's clock).
 */
export const SNAPSHOT_TOPICS = ['docker', 'containers', 'processes', 'workers', 'tasks'] as const;
export const FEED_TOPICS = ['docker-event', 'task-event'] as const;
export type SnapshotTopic = (typeof SNAPSHOT_TOPICS)[number];
export type FeedTopic = (typeof FEED_TOPICS)[number];
export type Topic = SnapshotTopic | FeedTopic;

export interface HubMessage {
  topic: Topic;
  data: unknown;
  at: number;
}

/** Events kept per feed topic for clients that connect later. */
export const FEED_HISTORY = 200;
/** A client with this much unsent data is too slow (TASKMESH_MONITORING_CLIENT_BUFFER_BYTES's default). */
export const MAX_CLIENT_BUFFER_BYTES = 8 * 1024 * 1024;

export class Hub {
  private readonly latest = new Map<SnapshotTopic, { message: HubMessage; json: string; key: string }>();
  private readonly feeds = new Map<FeedTopic, HubMessage[]>();
  private readonly clients = new Set<WebSocket>();
  private readonly listeners = new Set<(message: HubMessage) => void>();

  /** `budget` bounds what clients hold unsent: a client past it is dropped rather than buffered. */
  constructor(private readonly budget: WsBudget = new WsBudget(() => [], MAX_CLIENT_BUFFER_BYTES, Number.POSITIVE_INFINITY)) {}

  /** Sets a panel's state; returns whether it changed (and so was pushed). */
  setSnapshot(topic: SnapshotTopic, data: unknown): boolean {
    const key = JSON.stringify(data);
    if (this.latest.get(topic)?.key === key) return false;
    const message: HubMessage = { topic, data, at: Date.now() };
    const json = JSON.stringify(message);
    this.latest.set(topic, { message, json, key });
    this.publish(message, json);
    return true;
  }

  /** Appends one event to a feed and pushes it. */
  pushFeed(topic: FeedTopic, data: unknown): void {
    const message: HubMessage = { topic, data, at: Date.now() };
    const feed = this.feeds.get(topic) ?? [];
    feed.push(message);
    if (feed.length > FEED_HISTORY) feed.splice(0, feed.length - FEED_HISTORY);
    this.feeds.set(topic, feed);
    this.publish(message, JSON.stringify(message));
  }

  snapshot<T = unknown>(topic: SnapshotTopic): T | undefined {
    return this.latest.get(topic)?.message.data as T | undefined;
  }

  /** The kept events of a feed, oldest first. */
  recent<T = unknown>(topic: FeedTopic): T[] {
    return (this.feeds.get(topic) ?? []).map((m) => m.data as T);
  }

  /** In-process subscribers (tests, other modules); returns an unsubscribe function. */
  subscribe(listener: (message: HubMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sends the client every snapshot and the kept feed history, then keeps it updated. */
  addClient(ws: WebSocket): void {
    this.clients.add(ws);
    ws.on('close', () => this.clients.delete(ws));
    ws.on('error', () => this.clients.delete(ws));
    for (const { json } of this.latest.values()) this.send(ws, json);
    const history = [...this.feeds.values()].flat().sort((a, b) => a.at - b.at);
    for (const message of history) this.send(ws, JSON.stringify(message));
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Closes every client connection (going away). */
  close(): void {
    for (const ws of this.clients) ws.close(1001, 'monitoring is shutting down');
    this.clients.clear();
    this.listeners.clear();
  }

  private publish(message: HubMessage, json: string): void {
    for (const listener of this.listeners) listener(message);
    for (const ws of this.clients) this.send(ws, json);
  }

  private send(ws: WebSocket, json: string): void {
    if (ws.readyState !== ws.OPEN) return;
    // A stalled browser tab must not make the server hold every update in memory.
    if (!this.budget.admit(ws, json.length)) {
      this.clients.delete(ws);
      return;
    }
    ws.send(json);
  }
}
