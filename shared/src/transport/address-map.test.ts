import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AddressMap } from './address-map.js';

const address = fc.record({ host: fc.constantFrom('127.0.0.1', '10.0.0.2', '::1'), port: fc.integer({ min: 1, max: 6 }) });
const op = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: address, value: fc.integer() }),
  fc.record({ kind: fc.constant('delete' as const), at: address }),
  fc.record({ kind: fc.constant('clear' as const) }),
);

test('behaves as a map keyed by "host:port" through any sequence of set, delete and clear', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const map = new AddressMap<number>();
      const model = new Map<string, number>();
      for (const o of ops) {
        if (o.kind === 'set') {
          map.set(o.at, o.value);
          model.set(`${o.at.host}:${o.at.port}`, o.value);
        } else if (o.kind === 'delete') {
          map.delete(o.at);
          model.delete(`${o.at.host}:${o.at.port}`);
        } else {
          map.clear();
          model.clear();
        }
        assert.equal(map.size, model.size);
        const seen: number[] = [];
        map.forEach((v) => seen.push(v));
        assert.deepEqual(seen.sort(), [...model.values()].sort());
      }
      for (const [key, value] of model) {
        const colon = key.lastIndexOf(':');
        assert.equal(map.get({ host: key.slice(0, colon), port: Number(key.slice(colon + 1)) }), value);
      }
    }),
  );
});

test('with a maximum size, adding one more address starts the map afresh; updating one never does', () => {
  fc.assert(
    fc.property(fc.array(address, { maxLength: 80 }), fc.integer({ min: 1, max: 5 }), (addresses, maxSize) => {
      const map = new AddressMap<number>(maxSize);
      const model = new Map<string, number>();
      addresses.forEach((at, i) => {
        const key = `${at.host}:${at.port}`;
        if (!model.has(key) && model.size >= maxSize) model.clear();
        model.set(key, i);
        map.set(at, i);
        assert.equal(map.size, model.size);
        assert.ok(map.size <= maxSize);
        for (const [k, v] of model) {
          const colon = k.lastIndexOf(':');
          assert.equal(map.get({ host: k.slice(0, colon), port: Number(k.slice(colon + 1)) }), v);
        }
      });
    }),
  );
});
