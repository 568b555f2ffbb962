/** Where a UDP peer is reached. */
export interface Address {
  host: string;
  port: number;
  /** The peer's endpoint id (hex), when known: frames to it are signed for that endpoint only. */
  id?: string | undefined;
}

/** Map key of an address. */
export const addressKey = (address: Address): string => `${address.host}:${address.port}`;

/** Why an incoming datagram (or one message in it) was dropped. */
export type DropReason = 'size' | 'auth' | 'replay' | 'misdirected' | 'malformed' | 'version' | 'schema' | 'reassembly';

/** Counters for /metrics and tests. */
export interface EndpointStats {
  datagramsSent: number;
  datagramsReceived: number;
  messagesSent: number;
  messagesReceived: number;
  /** Message retransmissions (task, result, cancel) and chunk resends. */
  retransmitted: number;
  dropped: Record<DropReason, number>;
  droppedTotal: number;
}

export const emptyStats = (): EndpointStats => ({
  datagramsSent: 0,
  datagramsReceived: 0,
  messagesSent: 0,
  messagesReceived: 0,
  retransmitted: 0,
  dropped: { size: 0, auth: 0, replay: 0, misdirected: 0, malformed: 0, version: 0, schema: 0, reassembly: 0 },
  droppedTotal: 0,
});

export const copyStats = (stats: EndpointStats): EndpointStats => ({ ...stats, dropped: { ...stats.dropped } });
