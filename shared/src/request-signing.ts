import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Authenticated HTTP requests between taskmesh's own services (a worker registering, heartbeating
 * and deregistering at the nameservice). The signature is an HMAC-SHA256, under a key derived from
 * TASKMESH_SECRET for this purpose only, over the method, the path with its query, a timestamp and
 * the SHA-256 of the body, and a random nonce. A verifier accepts a timestamp within ±REQUEST_SIGNATURE_WINDOW_MS of
 * its clock and each signature once, so a captured request can neither be altered nor replayed.
 */
export const SIGNATURE_HEADER = 'x-taskmesh-signature';

/** How far a signed request's timestamp may be from the verifier's clock. */
export const REQUEST_SIGNATURE_WINDOW_MS = 30_000;
/** Signatures remembered to refuse a replay within the window; past it the oldest are forgotten. */
export const MAX_REMEMBERED_SIGNATURES = 200_000;

/** The key for one purpose, derived from the shared secret so it differs from the UDP frame key. */
export function deriveKey(secret: string, purpose: string): Buffer {
  return createHmac('sha256', secret).update(`taskmesh ${purpose} v1`).digest();
}

export interface SignedRequest {
  method: string;
  /** The path with its query string, as sent on the request line. */
  path: string;
  body: string | Buffer;
}

const mac = (key: Buffer, req: SignedRequest, timestampMs: number, nonce: string): string => {
  const bodyHash = createHash('sha256').update(req.body).digest('hex');
  return createHmac('sha256', key).update(`${req.method.toUpperCase()}\n${req.path}\n${timestampMs}\n${nonce}\n${bodyHash}`).digest('hex');
};

/** The value of SIGNATURE_HEADER for a request: `t=<ms>,n=<nonce>,s=<hex>`. */
export function signRequest(key: Buffer, req: SignedRequest, timestampMs: number = Date.now()): string {
  // The nonce makes two identical requests in one millisecond (two heartbeats) two signatures.
  const nonce = randomBytes(8).toString('hex');
  return `t=${timestampMs},n=${nonce},s=${mac(key, req, timestampMs, nonce)}`;
}

export type SignatureVerdict = { ok: true } | { ok: false; reason: string };

const HEADER_FORMAT = /^t=(\d{1,16}),n=([0-9a-f]{16}),s=([0-9a-f]{64})$/;

export interface RequestVerifierOptions {
  /** Milliseconds since the epoch; Date.now by default. */
  clock?: () => number;
  windowMs?: number;
  maxRemembered?: number;
  /**
   * Signatures made before this are refused (default: when the verifier was made). The
   * signatures seen are remembered in memory only: without this, one captured before a restart
   * could be replayed after it while its timestamp is still in the window.
   */
  notBeforeMs?: number;
}

/** Checks signed requests: format, timestamp window, HMAC (constant-time), then once only. */
export class RequestVerifier {
  private readonly seen = new Map<string, number>();
  private readonly clock: () => number;
  private readonly windowMs: number;
  private readonly maxRemembered: number;
  private readonly notBeforeMs: number;

  constructor(
    private readonly key: Buffer,
    options: RequestVerifierOptions = {},
  ) {
    this.clock = options.clock ?? Date.now;
    this.windowMs = options.windowMs ?? REQUEST_SIGNATURE_WINDOW_MS;
    this.maxRemembered = options.maxRemembered ?? MAX_REMEMBERED_SIGNATURES;
    this.notBeforeMs = options.notBeforeMs ?? this.clock();
  }

  verify(req: SignedRequest, header: string | undefined): SignatureVerdict {
    if (header === undefined || header === '')
      return { ok: false, reason: `missing ${SIGNATURE_HEADER} header: requests that change the registry are signed with TASKMESH_SECRET` };
    const parts = HEADER_FORMAT.exec(header.trim());
    if (parts === null)
      return { ok: false, reason: `malformed ${SIGNATURE_HEADER} header: expected t=<ms>,n=<16 hex digits>,s=<64 hex digits>` };
    const timestampMs = Number(parts[1]);
    const now = this.clock();
    if (Math.abs(now - timestampMs) > this.windowMs)
      return { ok: false, reason: `signature timestamp ${timestampMs} is more than ${this.windowMs} ms from the nameservice's clock` };
    if (timestampMs < this.notBeforeMs)
      return { ok: false, reason: `signed at ${timestampMs}, before this service started (${this.notBeforeMs}): sign the request again` };
    const given = Buffer.from(parts[3]!, 'hex');
    const expected = Buffer.from(mac(this.key, req, timestampMs, parts[2]!), 'hex');
    if (!timingSafeEqual(given, expected)) return { ok: false, reason: 'bad signature: not signed with this TASKMESH_SECRET' };
    this.forgetExpired(now);
    if (this.seen.has(parts[3]!)) return { ok: false, reason: 'replayed request: this signature was already used' };
    if (this.seen.size >= this.maxRemembered) this.seen.delete(this.seen.keys().next().value!);
    this.seen.set(parts[3]!, timestampMs + this.windowMs);
    return { ok: true };
  }

  /** Signatures remembered now (for tests). */
  get remembered(): number {
    return this.seen.size;
  }

  private forgetExpired(now: number): void {
    // Insertion order is roughly expiry order; a late-stamped entry only delays its successors.
    for (const [sig, expiresAt] of this.seen) {
      if (expiresAt >= now) return;
      this.seen.delete(sig);
    }
  }
}
