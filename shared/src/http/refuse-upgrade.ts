import type { Duplex } from 'node:stream';
import type { TaskmeshError } from '../errors.js';

const STATUS_TEXT: Partial<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  503: 'Service Unavailable',
};

/**
 * Answers a refused WebSocket upgrade on its raw socket: the error's status and its JSON body
 * (none for HEAD, whose answer has no body), then closes the connection.
 */
export function refuseUpgrade(socket: Duplex, error: TaskmeshError, method?: string): void {
  const body = method === 'HEAD' ? '' : JSON.stringify({ error: error.toJSON() });
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_TEXT[error.status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
