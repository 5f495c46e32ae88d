/** The demo sections `npm start` runs, in order. */
import type { DemoSection } from './sections.js';
import { modelsSection } from './models-section.js';
import { deconvnetSection } from './deconvnet-section.js';

export const allSections: DemoSection[] = [modelsSection, deconvnetSection];
