import { messageText } from '@taskmesh/shared';
import WebSocket from 'ws';

/**
 * Test helpers for the monitoring API: a WebSocket client that records every `{topic, data}`
 * message and lets a test await the first one (past or future) that matches.
 */
interface TopicMessage {
  topic: string;
  data: unknown;
  at: number;
}

export interface RecordingSocket {
  readonly ws: WebSocket;
  readonly messages: TopicMessage[];
  waitFor<T = unknown>(topic: string, predicate: (data: T) => boolean, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

export async function openRecordingSocket(url: string, headers: Record<string, string> = {}): Promise<RecordingSocket> {
  const ws = new WebSocket(url, { headers });
  const messages: TopicMessage[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data, isBinary) => {
    if (isBinary) return;
    messages.push(JSON.parse(messageText(data)) as TopicMessage);
    for (const w of waiters) w();
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`WebSocket refused: HTTP ${res.statusCode}`)));
  });
  return {
    ws,
    messages,
    waitFor<T>(topic: string, predicate: (data: T) => boolean, timeoutMs = 15_000): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        let next = 0;
        const check = (): void => {
          for (; next < messages.length; next++) {
            const m = messages[next]!;
            if (m.topic === topic && predicate(m.data as T)) {
              cleanup();
              resolve(m.data as T);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          const last = messages.filter((m) => m.topic === topic).at(-1);
          reject(
            new Error(`no matching "${topic}" message within ${timeoutMs} ms; last one: ${JSON.stringify(last?.data)?.slice(0, 2000)}`),
          );
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async close() {
      if (ws.readyState === ws.CLOSED) return;
      const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      ws.close();
      await closed;
    },
  };
}

export { eventually } from '@taskmesh/shared/testing';
