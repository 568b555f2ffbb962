import { AddressMap } from './address-map.js';
import type { Address } from './endpoint-stats.js';

/** Something sent and waiting for an answer: a dispatched task, a result. */
export interface FlightMember<T extends FlightMember<T>> {
  flight: Flight<T> | undefined;
}

/**
 * Messages sent to one peer together — one event-loop turn's, or one retransmission's — that wait
 * for their answers under one timer instead of one each: under load a turn sends dozens of tasks
 * or results to a peer, and a timer apiece (made, then cleared when the answer comes) costs more
 * than the rest of their bookkeeping.
 */
export class Flight<T extends FlightMember<T>> {
  readonly members: T[] = [];
  /** Members not yet answered. */
  waiting = 0;
  timer: NodeJS.Timeout | undefined = undefined;

  constructor(
    readonly to: Address,
    /** How many times these messages were sent before. */
    readonly retransmits: number,
  ) {}

  add(member: T): void {
    member.flight = this;
    this.members.push(member);
    this.waiting++;
  }
}

export interface FlightsOptions<T extends FlightMember<T>> {
  /** The timeout of a flight to `to` whose messages were sent `retransmits` times before. */
  delay(to: Address, retransmits: number): number;
  /** A flight's timer fired with `waiting` still unanswered (never empty). */
  expired(flight: Flight<T>, waiting: T[]): void;
}

/**
 * The flights of one sender. `join` puts a member into this turn's flight to its peer (opened on
 * first use); `closeTurn`, at the endpoint's flush when the turn's messages leave, starts the open
 * flights' timers (a long turn does not eat into their timeout) and makes later members start new
 * flights; `leave` takes an answered member out, and a flight with nobody waiting clears its
 * timer. The expiry runs in the check phase after the timer fired, so answers already waiting in
 * the socket are read first.
 */
export class Flights<T extends FlightMember<T>> {
  private readonly open = new AddressMap<Flight<T>>();
  private readonly active = new Set<Flight<T>>();

  constructor(private readonly options: FlightsOptions<T>) {}

  /** Adds `member` to this turn's flight to `to`. */
  join(member: T, to: Address): void {
    let flight = this.open.get(to);
    if (flight === undefined) {
      flight = new Flight<T>(to, 0);
      this.active.add(flight);
      this.open.set(to, flight);
    }
    flight.add(member);
  }

  /** A new flight, its timer running: for messages sent again together. */
  launch(to: Address, retransmits: number): Flight<T> {
    const flight = new Flight<T>(to, retransmits);
    this.arm(flight);
    this.active.add(flight);
    return flight;
  }

  /**
   * The members of an expired flight wait again as they are: a new flight to the same peer with
   * the same retransmission count (nothing was due yet, so nothing is resent or counted).
   */
  again(flight: Flight<T>, members: readonly T[]): void {
    const next = this.launch(flight.to, flight.retransmits);
    for (const member of members) next.add(member);
  }

  /** `member` was answered (or given up): it no longer waits. */
  leave(member: T): void {
    const flight = member.flight;
    if (flight === undefined) return;
    member.flight = undefined;
    if (--flight.waiting > 0) return;
    clearTimeout(flight.timer);
    this.active.delete(flight);
    if (this.open.get(flight.to) === flight) this.open.delete(flight.to);
  }

  /** This turn's messages are leaving: their timers start, and members joined from now on start new flights. */
  closeTurn(): void {
    this.open.forEach(this.armIfWaiting);
    this.open.clear();
  }

  /** Stops every timer (shutdown). */
  clear(): void {
    for (const flight of this.active) clearTimeout(flight.timer);
    this.active.clear();
    this.open.clear();
  }

  /** Flights with members waiting: this turn's open ones and those whose timers run. */
  get size(): number {
    return this.active.size;
  }

  private readonly armIfWaiting = (flight: Flight<T>): void => {
    if (flight.waiting > 0) this.arm(flight);
  };

  private arm(flight: Flight<T>): void {
    flight.timer = setTimeout(this.fired, this.options.delay(flight.to, flight.retransmits), flight);
  }

  private readonly fired = (flight: Flight<T>): void => {
    setImmediate(this.expire, flight);
  };

  private readonly expire = (flight: Flight<T>): void => {
    // Only a flight whose turn ended has a timer, so an expiring one is never still open.
    if (!this.active.delete(flight)) return;
    const waiting = flight.members.filter((m) => m.flight === flight);
    if (waiting.length > 0) this.options.expired(flight, waiting);
  };
}
