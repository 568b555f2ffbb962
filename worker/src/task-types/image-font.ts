import { createRequire } from 'node:module';
import { GlobalFonts } from '@napi-rs/canvas';
import { TaskmeshError } from '@taskmesh/shared';

/** Family names the renderer uses; registered from the npm package, as a container may have no fonts. */
export const FONT_FAMILY = 'Taskmesh Sans';
export const FONT_FAMILY_BOLD = 'Taskmesh Sans Bold';

const FONT_FILES = [
  { file: 'dejavu-fonts-ttf/ttf/DejaVuSans.ttf', family: FONT_FAMILY },
  { file: 'dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf', family: FONT_FAMILY_BOLD },
] as const;

let registered = false;

/** Registers the DejaVu fonts once per process; throws HANDLER_FAILED naming the missing file. */
export function ensureFonts(): void {
  if (registered) return;
  const require = createRequire(import.meta.url);
  for (const { file, family } of FONT_FILES) {
    let path: string;
    try {
      path = require.resolve(file);
    } catch (err) {
      throw new TaskmeshError('HANDLER_FAILED', `font ${file} not found: is dejavu-fonts-ttf installed?`, { cause: err });
    }
    if (GlobalFonts.registerFromPath(path, family) === null) {
      throw new TaskmeshError('HANDLER_FAILED', `font ${path} could not be loaded`);
    }
  }
  registered = true;
}
