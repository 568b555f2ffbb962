// A task type of your own that takes a while: it renders a badge with the canvas the image type
// uses, one frame per step, reports its progress after each and stops when the task is cancelled
// or times out (ctx.signal). Long CPU work blocks the worker's event loop: keep steps short, or
// move the work to a worker thread.
import { createCanvas } from '@napi-rs/canvas';
import { TaskError, defineTaskType, z } from '@taskmesh/worker';

export default defineTaskType({
  name: 'badge',
  description: 'Renders a text badge as PNG over {steps} steps of {stepMs} ms, reporting progress; cancellable',
  payload: z.object({
    text: z.string().min(1).max(64),
    steps: z.number().int().min(1).max(100).default(5),
    stepMs: z.number().int().min(0).max(10_000).default(100),
  }),
  defaults: { concurrency: 4, queueSize: 16 },
  handle: async ({ text, steps, stepMs }, ctx) => {
    const canvas = createCanvas(240, 64);
    const g = canvas.getContext('2d');
    for (let step = 1; step <= steps; step++) {
      if (ctx.signal.aborted) throw new TaskError('CANCELLED', `stopped at step ${step} of ${steps}`);
      g.fillStyle = `hsl(${(step * 360) / steps}, 70%, 40%)`;
      g.fillRect(0, 0, 240, 64);
      g.fillStyle = '#fff';
      g.fillRect(8, 52, (224 * step) / steps, 4);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, stepMs);
        ctx.signal.addEventListener('abort', () => (clearTimeout(timer), resolve(undefined)), { once: true });
      });
      ctx.progress(step / steps);
    }
    g.font = '24px sans-serif';
    g.fillText(text, 12, 36);
    const png = await canvas.encode('png');
    return { format: 'png', width: 240, height: 64, bytes: png.length, data: png.toString('base64'), worker: ctx.workerName };
  },
});
