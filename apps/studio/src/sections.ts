/**
 * One demo section = one capability run on the bundled samples. Each returns what the HTML page
 * shows; a failure in one section is reported on the page and does not stop the others.
 */
import type { HtmlFigure } from '@convlab/core';

/** An image (RgbImage, encoded bytes, or a path relative to the page) with a caption. */
export type DemoFigure = HtmlFigure;

export interface DemoSectionResult {
  /** The section's own heading (the page uses the section title; apps may return a longer one). */
  heading: string;
  text: string;
  figures: DemoFigure[];
  table?: { columns: string[]; rows: (string | number)[][] };
  /** Seconds the section took. */
  seconds: number;
  /** Files written (relative to the output folder). */
  files: string[];
}

export interface DemoContext {
  /** Output folder for this demo run. */
  outDir: string;
  /** Repository root (for assets/). */
  root: string;
  /** Small sizes and few iterations: used by tests and `--quick`. */
  quick: boolean;
  signal: AbortSignal;
  log: (line: string) => void;
}

export type DemoSection = {
  id: string;
  title: string;
  run: (ctx: DemoContext) => Promise<DemoSectionResult>;
};
