import { z } from 'zod';
import { defineContract } from './task-contract.js';

export const IMAGE_MIN_SIDE = 16;
export const IMAGE_MAX_SIDE = 2048;
export const IMAGE_MAX_TEXT = 200;
export const IMAGE_FORMATS = ['png', 'jpeg'] as const;

const side = (fallback: number) => z.number().int().min(IMAGE_MIN_SIDE).max(IMAGE_MAX_SIDE).default(fallback);

export const ImagePayload = z.strictObject({
  width: side(640),
  height: side(360),
  text: z.string().max(IMAGE_MAX_TEXT).default(''),
  format: z.enum(IMAGE_FORMATS).default('png'),
});
export type ImagePayload = z.output<typeof ImagePayload>;

export const imageContract = defineContract({
  name: 'image',
  description: `renders a PNG or JPEG frame {width?, height? (${IMAGE_MIN_SIDE}..${IMAGE_MAX_SIDE}), text?, format?: png|jpeg}`,
  payload: ImagePayload,
  // CPU-bound and synchronous: more concurrency would only lengthen each event-loop stall.
  defaults: { concurrency: 2, queueSize: 16 },
});
