import { z } from 'zod';
import type WebSocket from 'ws';
import { IMAGE_FORMATS, IMAGE_MAX_SIDE, IMAGE_MAX_TEXT, IMAGE_MIN_SIDE, TaskmeshError } from '@taskmesh/shared';
import type { DispatcherMetrics } from './metrics.js';
import type { TaskOutcome } from './task-entry.js';
import type { NewTask } from './task-entry.js';

export const STREAM_DEFAULT_FPS = 5;
export const STREAM_MAX_FPS = 30;

/** Query of /v1/stream/image; the size and text go to the image worker as they are. */
export const StreamQuery = z.strictObject({
  fps: z.coerce.number().int().min(1).max(STREAM_MAX_FPS).default(STREAM_DEFAULT_FPS),
  width: z.coerce.number().int().min(IMAGE_MIN_SIDE).max(IMAGE_MAX_SIDE).optional(),
  height: z.coerce.number().int().min(IMAGE_MIN_SIDE).max(IMAGE_MAX_SIDE).optional(),
  text: z.string().max(IMAGE_MAX_TEXT).optional(),
  format: z.enum(IMAGE_FORMATS).default('png'),
  token: z.string().optional(),
});
export type StreamQuery = z.output<typeof StreamQuery>;

/** The image worker's result, as far as the stream needs it. */
const ImageResult = z.object({ format: z.enum(['png', 'jpeg']), data: z.string().min(1) });

export interface ImageStreamOptions {
  ws: WebSocket;
  query: StreamQuery;
  run: (task: NewTask) => Promise<TaskOutcome>;
  metrics: DispatcherMetrics;
}

/**
 * One client's live stream: at the requested rate it asks an image worker for a frame and sends
 * the encoded bytes as one binary WebSocket message. At most one frame is in flight: while the
 * worker renders, or the client has not taken the last frame yet, ticks are skipped, never queued.
 * Text messages are JSON status notes (`{"event":"error","error":{code,message}}`).
 */
export class ImageStream {
  private readonly timer: NodeJS.Timeout;
  private inFlight = false;
  private sending = false;
  private stopped = false;
  private lastError: string | null = null;
  frames = 0;

  constructor(private readonly options: ImageStreamOptions) {
    const intervalMs = Math.round(1000 / options.query.fps);
    this.timer = setInterval(() => this.tick(intervalMs), intervalMs);
    options.ws.on('close', () => this.stop());
    this.tick(intervalMs);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  private tick(intervalMs: number): void {
    const { ws, query, metrics } = this.options;
    if (this.stopped || ws.readyState !== ws.OPEN) return;
    if (this.inFlight || this.sending || ws.bufferedAmount > 0) {
      metrics.frame('skipped');
      return;
    }
    this.inFlight = true;
    const payload: Record<string, unknown> = { format: query.format, text: query.text ?? `frame ${this.frames + 1}` };
    if (query.width !== undefined) payload.width = query.width;
    if (query.height !== undefined) payload.height = query.height;
    // A frame that comes later than a few intervals is stale: let it time out.
    const timeoutMs = Math.max(2000, intervalMs * 4);
    let run: Promise<TaskOutcome>;
    try {
      run = this.options.run({ type: 'image', payload, timeoutMs, maxAttempts: 1 });
    } catch (err) {
      run = Promise.resolve({ ok: false, error: err instanceof TaskmeshError ? err.toJSON() : { code: 'INTERNAL', message: String(err) } });
    }
    void run.then((outcome) => {
      this.inFlight = false;
      if (this.stopped || ws.readyState !== ws.OPEN) return;
      const frame = outcome.ok ? ImageResult.safeParse(outcome.value) : null;
      if (frame === null || !frame.success) {
        metrics.frame('failed');
        const error = outcome.ok ? { code: 'INTERNAL', message: 'image worker answered without image data' } : outcome.error;
        // One note per distinct problem, not one per tick.
        if (error.message !== this.lastError) {
          this.lastError = error.message;
          ws.send(JSON.stringify({ event: 'error', error }));
        }
        return;
      }
      this.lastError = null;
      this.sending = true;
      this.frames++;
      metrics.frame('sent');
      ws.send(Buffer.from(frame.data.data, 'base64'), { binary: true }, () => {
        this.sending = false;
      });
    });
  }
}
