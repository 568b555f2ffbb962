/**
 * The decoded request-body bytes a process holds while reading bodies, in all requests together
 * (TASKMESH_HTTP_BODY_BUDGET_BYTES), and the inflation a compressed body may have
 * (TASKMESH_HTTP_MAX_INFLATION). A body takes its bytes from the budget as they arrive and gives
 * them back once it is parsed or refused; a body that would pass the budget is refused (503
 * BODY_BUDGET_FULL, retryable) instead of growing memory with the count of slow senders.
 */
export class BodyBudget {
  private used = 0;
  /** What the budget refused: bodies over the budget, compressed bodies over the inflation cap. */
  readonly refused = { budget: 0, inflation: 0 };

  constructor(
    readonly totalBytes: number,
    readonly maxInflation: number,
  ) {}

  /** Bytes held by bodies being read now. */
  get inUse(): number {
    return this.used;
  }

  /** Takes `bytes` from the budget; false (and counted) when they are not there. */
  take(bytes: number): boolean {
    if (this.used + bytes > this.totalBytes) {
      this.refused.budget++;
      return false;
    }
    this.used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }

  /**
   * Whether `decoded` bytes from `received` compressed ones are past the inflation cap. The first
   * 64 KiB always pass: a small body may compress well without being an attack.
   */
  overInflated(decoded: number, received: number): boolean {
    if (decoded <= INFLATION_FREE_BYTES || decoded <= received * this.maxInflation) return false;
    this.refused.inflation++;
    return true;
  }
}

const INFLATION_FREE_BYTES = 64 * 1024;
