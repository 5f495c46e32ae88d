/**
 * Fonts for figures. A subset of DejaVu Sans (regular and bold; Latin, Greek, punctuation, math
 * symbols) ships in ./fonts and is registered under one family name, so text renders the same on a
 * fresh machine without system fonts as on a desktop. Other characters fall back to system fonts.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GlobalFonts } from '@napi-rs/canvas';

/** The family every drawing function uses. */
export const FONT_FAMILY = 'ConvlabSans';

const FONT_FILES = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'];

let registered = false;

/** Folder holding the font files: next to this module in src/, or src/draw/fonts seen from dist/draw. */
function fontDir(): string {
  for (const rel of ['./fonts/', '../../src/draw/fonts/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(dir + FONT_FILES[0])) return dir;
  }
  throw new Error(`bundled fonts not found next to ${fileURLToPath(import.meta.url)}`);
}

/** Register the bundled fonts once (idempotent, cheap after the first call). */
export function ensureFonts(): void {
  if (registered) return;
  const dir = fontDir();
  for (const file of FONT_FILES) {
    if (!GlobalFonts.registerFromPath(dir + file, FONT_FAMILY)) throw new Error(`cannot register font ${dir + file}`);
  }
  registered = true;
}

/** A CSS font string for canvas: font(13), font(16, 'bold'). */
export function font(sizePx: number, weight: 'normal' | 'bold' = 'normal'): string {
  ensureFonts();
  return `${weight === 'bold' ? 'bold ' : ''}${Math.round(sizePx * 10) / 10}px ${FONT_FAMILY}, sans-serif`;
}
