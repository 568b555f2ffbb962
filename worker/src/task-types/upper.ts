import { upperContract, type UpperPayload } from '@taskmesh/shared';
import { QUICK_TEXT_LENGTH } from './reverse.js';
import { defineTaskType } from './task-type.js';

export { UpperPayload } from '@taskmesh/shared';

/** Unicode full case mapping, locale independent: "ß" becomes "SS", "ǆ" becomes "Ǆ". */
export const upperType = defineTaskType({
  ...upperContract,
  quick: ({ text }: UpperPayload): boolean => text.length <= QUICK_TEXT_LENGTH,
  handle: ({ text }: UpperPayload): { text: string } => ({ text: text.toUpperCase() }),
});
