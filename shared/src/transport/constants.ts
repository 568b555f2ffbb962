import type { BackoffPolicy } from '../backoff.js';

/**
 * Named limits and timings of the UDP transport. Every number the wire protocol depends on is
 * here, so ARCHITECTURE.md and the code cannot drift apart.
 */

/** Largest payload of one datagram: 1200 bytes keeps the whole frame under common path MTUs. */
export const MAX_CHUNK_PAYLOAD = 1200;
/**
 * Largest payload of a datagram to a loopback address (127.0.0.0/8, ::1), whose MTU is 64 KiB:
 * under load one such datagram carries ~60 messages where a 1200-byte one carries ~7, so a task
 * costs a fraction of a send, a receive and an HMAC. A message too large for its path's datagram
 * is chunked, in chunks of its path's datagram payload.
 */
export const LOOPBACK_DATAGRAM_PAYLOAD = 16 * 1024;
/** Largest encoded message (its JSON), enforced on send and, through the chunk count, on receive. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/** Frame layout version; a different value is dropped and counted as `version`. */
export const FRAME_VERSION = 2;
/** Fixed header before the payload: magic(2) version(1) type(1) time(8) sender(8) receiver(8) counter(6) id(4) index(2) count(2). */
export const FRAME_HEADER_BYTES = 42;
/** HMAC-SHA256 tag appended to every frame. */
export const FRAME_MAC_BYTES = 32;
/** Largest datagram the transport sends (to a loopback address) or accepts. */
export const MAX_DATAGRAM_BYTES = FRAME_HEADER_BYTES + LOOPBACK_DATAGRAM_PAYLOAD + FRAME_MAC_BYTES;

/** A frame whose timestamp is further than this from the receiver's clock is a replay. */
export const REPLAY_WINDOW_MS = 30_000;
/** Width of the per-sender anti-replay bitmap (counters this far behind the newest are refused). */
export const REPLAY_BITMAP_WIDTH = 1024;
/** Senders whose replay state is kept; the least recently heard is forgotten first. */
export const MAX_REPLAY_SENDERS = 4096;

/** Quiet gap after the last chunk of an incomplete message before the receiver asks for the rest. */
export const NACK_DELAY_MS = 40;
/** Spacing of repeated NACKs for one message. */
export const NACK_RETRY: BackoffPolicy = { initialDelayMs: 80, factor: 2, maxDelayMs: 640, jitter: 0.2 };
/** NACKs sent for one message before its reassembly is abandoned (counted as `reassembly`). */
export const MAX_NACKS = 6;
/** Missing chunk indices listed in one NACK (u16 each, must fit one chunk payload). */
export const MAX_NACK_INDICES = MAX_CHUNK_PAYLOAD / 2;
/** Incomplete messages held at once; the oldest is abandoned when another starts. */
export const MAX_REASSEMBLIES = 64;
/** Bytes held by incomplete messages at once. */
export const MAX_REASSEMBLY_BYTES = 32 * 1024 * 1024;
/** Completed multi-chunk messages remembered so late duplicate chunks do not start a new one. */
export const COMPLETED_MESSAGE_MEMORY = 1024;

/** How long a sent multi-chunk message is kept to answer NACKs. */
export const OUTBOX_TTL_MS = 5_000;
/** Sent multi-chunk messages kept at once, and their total bytes. */
export const OUTBOX_MAX_MESSAGES = 256;
export const OUTBOX_MAX_BYTES = 64 * 1024 * 1024;
/** Chunk bytes sent per event-loop turn at most, so other work interleaves with a large message. */
export const CHUNK_BURST_BYTES = 256 * 1024;
/**
 * Bytes of large messages one peer may have sent to it and not confirmed (the flow-control
 * window, see ChunkPacer): well inside the socket buffer asked for, so a burst of large messages
 * waits here instead of overflowing the peer's buffer. Smaller where the kernel grants a smaller buffer.
 */
export const CHUNK_WINDOW_BYTES = 1024 * 1024;
/** A peer that does not confirm a large message it received is assumed to have it after this. */
export const CHUNK_COMPLETION_WAIT_MS = 100;
/** Socket buffers asked for (the kernel may cap them). */
export const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

/** At most one warning per this interval summarises dropped datagrams (each is logged at debug). */
export const DROP_WARN_INTERVAL_MS = 10_000;

/** Retransmission of a message that waits for an acknowledgement. */
export interface RetransmitPolicy extends BackoffPolicy {
  /** Retransmissions after the first send before giving up. */
  maxRetransmits: number;
}

/** 50 ms, doubling to an 800 ms cap, ±20%, 6 retransmissions: gives up after about 3 s. */
export const DEFAULT_RETRANSMIT: RetransmitPolicy = {
  initialDelayMs: 50,
  factor: 2,
  maxDelayMs: 800,
  jitter: 0.2,
  maxRetransmits: 6,
};

/** Ceiling of the adaptive retransmission timeout (see RttEstimator). */
export const RTO_MAX_MS = 2000;
/** Peers whose round-trip estimate is kept. */
export const MAX_RTT_PEERS = 1024;

/** The worker sends `progress` for each queued or running task this often. */
export const KEEPALIVE_INTERVAL_MS = 1000;
/** The caller gives up on an accepted task that has been silent this long (WORKER_LOST). */
export const KEEPALIVE_TIMEOUT_MS = 3500;

/** How long a worker remembers a finished task's result to answer retransmissions. */
export const RESULT_CACHE_TTL_MS = 60_000;
/** Finished tasks remembered at once. */
export const RESULT_CACHE_MAX = 10_000;
/** Bytes of encoded results remembered at once: the cache is bounded by size, not only by count. */
export const RESULT_CACHE_MAX_BYTES = 64 * 1024 * 1024;
/** A task's progress is sent at most this often; the keep-alive carries the latest figure. */
export const PROGRESS_MIN_INTERVAL_MS = 100;
