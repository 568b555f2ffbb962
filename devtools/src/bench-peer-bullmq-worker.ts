/** BullMQ's side of `npm run bench -- --peers`: a worker process reversing texts (see bench-peers.ts). */
import { Worker } from 'bullmq';

const [port, concurrency] = process.argv.slice(2).map(Number);
const worker = new Worker<{ text: string }>('bench', (job) => Promise.resolve({ text: [...job.data.text].reverse().join('') }), {
  connection: { host: '127.0.0.1', port: port ?? 6379 },
  concurrency: concurrency ?? 1,
});
await worker.waitUntilReady();
process.stdout.write('ready\n');
process.once('SIGTERM', () => void worker.close().then(() => process.exit(0)));
