// A task type of your own, the smallest kind: pure, synchronous, no dependencies but taskmesh's.
// Listed in workers.json as { "module": "./examples/wordcount.mjs" }.
import { defineTaskType, z } from '@taskmesh/worker';

export default defineTaskType({
  name: 'wordcount',
  description: 'Counts the words of a text',
  payload: z.object({ text: z.string().max(100000) }),
  // Microseconds for any payload: answered inside the queue's offer, with no separate ack.
  quick: () => true,
  handle: ({ text }) => ({ words: text.split(/\s+/).filter(Boolean).length }),
});
