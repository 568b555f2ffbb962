export {
  MAX_CHUNK_PAYLOAD,
  LOOPBACK_DATAGRAM_PAYLOAD,
  MAX_MESSAGE_BYTES,
  MAX_DATAGRAM_BYTES,
  FRAME_VERSION,
  REPLAY_WINDOW_MS,
  REPLAY_BITMAP_WIDTH,
  MAX_REPLAY_SENDERS,
  NACK_DELAY_MS,
  MAX_NACKS,
  OUTBOX_TTL_MS,
  DEFAULT_RETRANSMIT,
  KEEPALIVE_INTERVAL_MS,
  KEEPALIVE_TIMEOUT_MS,
  RESULT_CACHE_TTL_MS,
  RESULT_CACHE_MAX,
  RESULT_CACHE_MAX_BYTES,
} from './constants.js';
export type { RetransmitPolicy } from './constants.js';
export type { Address, EndpointStats, DropReason } from './endpoint-stats.js';
export { UdpEndpoint } from './udp-endpoint.js';
export { frameKey } from './frame.js';
export type { UdpEndpointOptions, MessageListener, DatagramSend } from './udp-endpoint.js';
export { TaskCaller } from './task-caller.js';
export type { DispatchListener, DispatchTarget, DispatchOutcome, TaskCallerOptions } from './task-caller.js';
export type { LinkHealth } from './link-health.js';
export { TaskServer } from './task-server.js';
export type { TaskServerOptions, TaskServerStats } from './task-server.js';
export type { TaskContext, TaskExecutor } from './task-context.js';
