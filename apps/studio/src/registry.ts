/** The demo sections `npm start` runs, in order. */
import type { DemoSection } from './sections.js';
import { modelsSection } from './models-section.js';
import { deconvnetSection } from './deconvnet-section.js';
import { styleSection } from './style-section.js';
import { captioningSection } from './captioning-section.js';

export const allSections: DemoSection[] = [modelsSection, styleSection, deconvnetSection, captioningSection];
