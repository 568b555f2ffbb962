import { createCanvas, type SKRSContext2D } from '@napi-rs/canvas';
import { imageContract, type ImagePayload } from '@taskmesh/shared';
import { defineTaskType, type HandlerContext } from './task-type.js';
import { ensureFonts, FONT_FAMILY, FONT_FAMILY_BOLD } from './image-font.js';

export { IMAGE_MAX_SIDE, IMAGE_MIN_SIDE } from '@taskmesh/shared';

export interface ImageResult {
  format: 'png' | 'jpeg';
  width: number;
  height: number;
  /** Length of the encoded image, before base64. */
  bytes: number;
  /** The encoded image, base64. */
  data: string;
  worker: string;
  /** ISO time the frame shows. */
  renderedAt: string;
}

/** Where the moving elements are at time `ms`: a ball on a Lissajous path and a sweeping hand. */
export function framePhase(ms: number): { ballX: number; ballY: number; hand: number; hue: number } {
  const turn = (period: number): number => ((ms % period) / period) * 2 * Math.PI;
  return {
    ballX: 0.5 + 0.4 * Math.sin(turn(4000)),
    ballY: 0.5 + 0.3 * Math.sin(turn(6000)),
    hand: turn(1000),
    hue: (ms / 100) % 360,
  };
}

function draw(g: SKRSContext2D, width: number, height: number, lines: { worker: string; time: string; text: string }, ms: number): void {
  const phase = framePhase(ms);
  const unit = Math.min(width, height);

  // The background's hue drifts with time, so consecutive frames are told apart at a glance. The
  // gradient is vertical: rows of one colour make PNG encoding about six times faster and the
  // file twenty times smaller than a diagonal one (2048x2048: ~0.2 s and ~70 KB).
  const bg = g.createLinearGradient(0, 0, 0, height);
  bg.addColorStop(0, `hsl(${phase.hue}, 55%, 22%)`);
  bg.addColorStop(1, `hsl(${(phase.hue + 90) % 360}, 60%, 38%)`);
  g.fillStyle = bg;
  g.fillRect(0, 0, width, height);

  g.fillStyle = `hsl(${(phase.hue + 180) % 360}, 80%, 60%)`;
  g.beginPath();
  g.arc(phase.ballX * width, phase.ballY * height, Math.max(2, unit * 0.08), 0, 2 * Math.PI);
  g.fill();

  // A second hand, one turn per second, in the top-right corner.
  const r = unit * 0.12;
  const cx = width - r * 1.3;
  const cy = r * 1.3;
  g.strokeStyle = 'rgba(255,255,255,0.85)';
  g.lineWidth = Math.max(1, unit / 120);
  g.beginPath();
  g.arc(cx, cy, r, 0, 2 * Math.PI);
  g.moveTo(cx, cy);
  g.lineTo(cx + r * Math.sin(phase.hand), cy - r * Math.cos(phase.hand));
  g.stroke();

  const size = Math.max(6, Math.round(Math.min(height / 10, width / 18)));
  const margin = Math.max(2, Math.round(size * 0.6));
  const maxWidth = width - 2 * margin;
  g.fillStyle = '#ffffff';
  g.textBaseline = 'top';
  g.font = `${size}px "${FONT_FAMILY_BOLD}"`;
  g.fillText(lines.worker, margin, margin, maxWidth);
  g.font = `${Math.round(size * 0.8)}px "${FONT_FAMILY}"`;
  g.fillText(lines.time, margin, margin + size * 1.3, maxWidth);
  if (lines.text !== '') {
    g.font = `${size}px "${FONT_FAMILY}"`;
    g.textBaseline = 'bottom';
    g.fillText(lines.text, margin, height - margin, maxWidth);
  }
}

/**
 * Renders a frame showing the worker's name, the time and the caller's text. Drawing and
 * encoding are synchronous on purpose: the handler stays a plain function of its input, and the
 * cost is bounded by IMAGE_MAX_SIDE (a few hundred ms for the largest PNG); the worker's
 * heartbeat runs on its own thread, so even a long run of renders never costs it its lease.
 */
export function renderImage(payload: ImagePayload, ctx: HandlerContext): ImageResult {
  ensureFonts();
  const now = ctx.now();
  const canvas = createCanvas(payload.width, payload.height);
  draw(
    canvas.getContext('2d'),
    payload.width,
    payload.height,
    { worker: ctx.workerName, time: now.toISOString(), text: payload.text },
    now.getTime(),
  );
  ctx.progress(0.5);
  const encoded = payload.format === 'png' ? canvas.toBuffer('image/png') : canvas.toBuffer('image/jpeg', 85);
  ctx.progress(1);
  return {
    format: payload.format,
    width: payload.width,
    height: payload.height,
    bytes: encoded.length,
    data: encoded.toString('base64'),
    worker: ctx.workerName,
    renderedAt: now.toISOString(),
  };
}

export const imageType = defineTaskType({
  ...imageContract,
  handle: renderImage,
});
