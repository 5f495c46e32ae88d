/** The demo sections `npm start` runs, in order. */
import type { DemoSection } from './sections.js';
import { modelsSection } from './models-section.js';

export const allSections: DemoSection[] = [modelsSection];
