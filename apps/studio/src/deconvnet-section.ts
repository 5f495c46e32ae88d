/** Demo section: the Zeiler & Fergus top-9 figure on the bundled photos (@convlab/visualize owns the work). */
import { deconvnetDemo } from '@convlab/visualize';
import type { DemoSection } from './sections.js';

export const deconvnetSection: DemoSection = {
  id: 'deconvnet',
  title: 'Deconvnet feature visualization',
  run: (ctx) => deconvnetDemo(ctx),
};
