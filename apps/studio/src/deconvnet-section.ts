/** Demo section: the Zeiler & Fergus top-9 figure on the bundled photos (apps/deconvnet owns the work). */
import { deconvnetDemo } from '@convlab/deconvnet';
import type { DemoSection } from './sections.js';

export const deconvnetSection: DemoSection = {
  id: 'deconvnet',
  title: 'Deconvnet feature visualization',
  run: (ctx) => deconvnetDemo(ctx),
};
