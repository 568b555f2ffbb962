import { createServer } from 'node:net';

/** Helpers for devtools' own tests: free ports and bounded polling. */

/** A TCP port that was free a moment ago: `preferred` if it binds on every address, else any on 127.0.0.1. */
export async function freePort(preferred = 0): Promise<number> {
  const server = createServer();
  const listen = (port: number, host: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  // A preferred port must be free on every address, as a published container port would be.
  await listen(preferred, preferred === 0 ? '127.0.0.1' : '0.0.0.0').catch(() => listen(0, '127.0.0.1'));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export { eventually } from '@taskmesh/shared/testing';
