import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as connectTcp, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { eventually, startLocalSuite, type LocalSuite } from '@taskmesh/shared/testing';
import { EventStream, eventsUrl } from './event-stream.js';

test('eventsUrl maps the scheme and carries the filters', () => {
  assert.equal(eventsUrl({ baseUrl: 'http://127.0.0.1:7200' }), 'ws://127.0.0.1:7200/v1/events');
  assert.equal(
    eventsUrl({ baseUrl: 'https://d.example', type: 'reverse', taskId: 't-1', events: ['succeeded', 'failed', 'cancelled'] }),
    'wss://d.example/v1/events?type=reverse&taskId=t-1&event=succeeded%2Cfailed%2Ccancelled',
  );
  assert.equal(eventsUrl({ baseUrl: 'http://h', events: [] }), 'ws://h/v1/events');
  assert.equal(eventsUrl({ baseUrl: 'http://h', events: ['succeeded'], batch: true }), 'ws://h/v1/events?event=succeeded&batch=1');
  assert.equal(eventsUrl({ baseUrl: 'http://h', batch: false }), 'ws://h/v1/events');
});

describe('a resuming stream that has seen no event yet', () => {
  let suite: LocalSuite;
  let proxy: Server;
  let proxyUrl: string;
  let blocked = false;
  const piped = new Set<Socket>();
  before(async () => {
    suite = await startLocalSuite({ workers: ['reverse'] });
    const target = new URL(suite.dispatcherUrl!);
    // A TCP hop between the stream and the dispatcher that the test can cut and hold shut.
    proxy = createServer((client) => {
      if (blocked) return client.destroy();
      const upstream = connectTcp(Number(target.port), target.hostname);
      for (const s of [client, upstream]) {
        piped.add(s);
        s.on('error', () => undefined);
        s.on('close', () => piped.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const s of piped) s.destroy();
    proxy?.close();
    await suite?.stop();
  });

  test('misses nothing the dispatcher published while its connection was down', async () => {
    const stream = await EventStream.open({ baseUrl: proxyUrl, type: 'reverse', events: ['succeeded'], resume: true });
    const seen = new Set<string>();
    stream.onEvent((e) => seen.add(e.taskId));
    assert.equal(typeof stream.position, 'number', 'it knows where its subscription began');
    // The connection drops and stays down while three tasks end.
    blocked = true;
    for (const s of piped) s.destroy();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${suite.dispatcherUrl}/v1/tasks?wait=10000`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'reverse', payload: { text: `while down ${i}` } }),
      });
      const body = (await res.json()) as { id: string; status: string };
      assert.equal(body.status, 'succeeded');
      ids.push(body.id);
    }
    blocked = false;
    await eventually('the three events, after the stream came back', () => ids.every((id) => seen.has(id)), { timeoutMs: 15_000 });
    assert.ok(stream.resumed >= 1);
    await stream.close();
  });
});
