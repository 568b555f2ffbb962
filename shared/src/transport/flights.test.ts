import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Flights, type Flight, type FlightMember } from './flights.js';

class Item implements FlightMember<Item> {
  flight: Flight<Item> | undefined = undefined;
  constructor(readonly name: string) {}
}

const peer = { host: '127.0.0.1', port: 7000 };
const other = { host: '127.0.0.1', port: 7001 };

/** Flights with a 5 ms timeout whose expiries are handed to the test one at a time. */
function setup() {
  const expiries: Array<{ flight: Flight<Item>; waiting: Item[] }> = [];
  let wake: (() => void) | undefined;
  const flights = new Flights<Item>({
    delay: (_to, retransmits) => 5 * (retransmits + 1),
    expired: (flight, waiting) => {
      expiries.push({ flight, waiting });
      wake?.();
    },
  });
  const nextExpiry = async (): Promise<{ flight: Flight<Item>; waiting: Item[] }> => {
    while (expiries.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    return expiries.shift()!;
  };
  return { flights, nextExpiry };
}

test('members joined in one turn share a flight per peer; after closeTurn they start new ones', () => {
  const { flights } = setup();
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => new Item(n)) as [Item, Item, Item, Item];
  flights.join(a, peer);
  flights.join(b, peer);
  flights.join(c, other);
  assert.equal(a.flight, b.flight);
  assert.notEqual(a.flight, c.flight);
  assert.equal(flights.size, 2);
  flights.closeTurn();
  flights.join(d, peer);
  assert.notEqual(d.flight, a.flight);
  assert.equal(flights.size, 3);
  flights.clear();
  assert.equal(flights.size, 0);
});

test('a flight whose members all left is dropped; one with members left expires with just those, timed from the end of the turn', async () => {
  const { flights, nextExpiry } = setup();
  const answered = [new Item('x'), new Item('y')];
  for (const item of answered) flights.join(item, other);
  const [a, b, c] = [new Item('a'), new Item('b'), new Item('c')];
  for (const item of [a, b, c]) flights.join(item, peer);
  for (const item of answered) flights.leave(item);
  flights.leave(b);
  assert.equal(flights.size, 1, 'the fully answered flight is gone');
  flights.closeTurn(); // the turn's messages leave: the timer starts
  assert.equal(b.flight, undefined);
  const { flight, waiting } = await nextExpiry();
  assert.deepEqual(
    waiting.map((i) => i.name),
    ['a', 'c'],
  );
  assert.equal(flight.to, peer);
  assert.equal(flight.retransmits, 0);
  assert.equal(flights.size, 0);
  // The owner sends them again as the next flight, which expires in its turn.
  const next = flights.launch(peer, flight.retransmits + 1);
  for (const item of waiting) next.add(item);
  flights.leave(a);
  const again = await nextExpiry();
  assert.deepEqual(
    again.waiting.map((i) => i.name),
    ['c'],
  );
  assert.equal(again.flight.retransmits, 1);
});
