import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadImage } from '@napi-rs/canvas';
import { TaskmeshError } from '@taskmesh/shared';
import { framePhase, imageType, IMAGE_MAX_SIDE, IMAGE_MIN_SIDE, type ImageResult } from './image.js';
import { parsePayload } from './parse-payload.js';
import { testContext } from './test-context.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const JPEG_SIGNATURE = Buffer.from([0xff, 0xd8, 0xff]);

const render = async (payload: unknown, at = new Date('2030-01-02T03:04:05.678Z')): Promise<ImageResult> =>
  imageType.handle(parsePayload(imageType, payload), testContext({ now: () => at, workerName: 'image-test-1' }));

test('image renders a PNG by default, 640x360, that decodes to its size', async () => {
  const result = await render({});
  assert.equal(result.format, 'png');
  assert.equal(result.width, 640);
  assert.equal(result.height, 360);
  assert.equal(result.worker, 'image-test-1');
  assert.equal(result.renderedAt, '2030-01-02T03:04:05.678Z');
  const bytes = Buffer.from(result.data, 'base64');
  assert.equal(bytes.length, result.bytes);
  assert.deepEqual(bytes.subarray(0, 8), PNG_SIGNATURE);
  const decoded = await loadImage(bytes);
  assert.equal(decoded.width, 640);
  assert.equal(decoded.height, 360);
});

test('image renders JPEG at the requested size', async () => {
  const result = await render({ width: 300, height: 200, format: 'jpeg', text: 'hello ünïcode' });
  const bytes = Buffer.from(result.data, 'base64');
  assert.deepEqual(bytes.subarray(0, 3), JPEG_SIGNATURE);
  const decoded = await loadImage(bytes);
  assert.deepEqual([decoded.width, decoded.height], [300, 200]);
});

test('image renders at the smallest and largest bounds', async () => {
  const small = await render({ width: IMAGE_MIN_SIDE, height: IMAGE_MIN_SIDE, text: 'x' });
  const decoded = await loadImage(Buffer.from(small.data, 'base64'));
  assert.deepEqual([decoded.width, decoded.height], [IMAGE_MIN_SIDE, IMAGE_MIN_SIDE]);
  const large = await render({ width: IMAGE_MAX_SIDE, height: 64, format: 'jpeg' });
  assert.equal((await loadImage(Buffer.from(large.data, 'base64'))).width, IMAGE_MAX_SIDE);
});

test('image sizes out of bounds are rejected naming the field', () => {
  const invalid = (payload: unknown, field: RegExp): void =>
    assert.throws(
      () => parsePayload(imageType, payload),
      (err: unknown) => err instanceof TaskmeshError && err.code === 'INVALID_PAYLOAD' && field.test(err.message),
    );
  invalid({ width: IMAGE_MAX_SIDE + 1 }, /width/);
  invalid({ height: IMAGE_MIN_SIDE - 1 }, /height/);
  invalid({ width: 100.5 }, /width/);
  invalid({ format: 'gif' }, /format/);
  invalid({ text: 'x'.repeat(201) }, /text/);
});

test('frames change over time', async () => {
  const a = await render({ width: 64, height: 64 }, new Date(1_000_000));
  const b = await render({ width: 64, height: 64 }, new Date(1_000_700));
  assert.notEqual(a.data, b.data);
  const p = framePhase(0);
  const q = framePhase(1000);
  assert.notEqual(p.ballX, q.ballX);
  // Same instant, same picture: the renderer is a function of its inputs.
  const c = await render({ width: 64, height: 64 }, new Date(1_000_000));
  assert.equal(a.data, c.data);
});
