import { test } from 'node:test';
import assert from 'node:assert/strict';
import { eventsUrl } from './event-stream.js';

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
