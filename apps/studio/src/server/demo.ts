/**
 * The landing page's demo: a few small jobs on the bundled samples, submitted at start as ordinary queued
 * jobs (live progress like any other). Each id is derived from the kind and the input, so the second start
 * finds the finished job in the runs folder and computes nothing, and changing a demo input computes it
 * afresh under a new id. Small enough to finish in about a minute on 2 cores.
 */
import { createHash } from 'node:crypto';
import type { JobInfo } from '@convlab/jobs/kind';

export interface DemoJob {
  /** Where the landing page shows it: 'style', 'visualize', 'top9', 'caption'. */
  section: string;
  kind: string;
  label: string;
  /** The input with image references (sample:...), as a client would send it. */
  input: Record<string, unknown>;
}

export const DEMO_JOBS: readonly DemoJob[] = [
  {
    section: 'style',
    kind: 'style.stylize',
    label: 'demo: Tübingen in the style of The Starry Night',
    input: { content: 'sample:content/tubingen.jpg', style: ['sample:style/starry_night.jpg'], size: 128, iterations: 30 },
  },
  {
    section: 'visualize',
    kind: 'visualize.attribute',
    label: 'demo: what the network sees in the dog photo',
    // A late layer's strongest unit (on the bicycle wheel): its receptive field is large enough for every panel
    // to show something. Occlusion at its default window and stride is over 700 forward passes; 48 px windows
    // every 24 px are 64.
    input: { image: 'sample:content/dog.jpg', layer: '@late', methods: ['deconvnet', 'guided', 'gradcam', 'occlusion'], occlusionWindow: 48, occlusionStride: 24 },
  },
  {
    section: 'top9',
    kind: 'visualize.top9',
    label: 'demo: top-9 over the bundled photos',
    input: { images: 'bundled', units: 'strongest:1' },
  },
  ...['dog.jpg', 'kite.jpg', 'horses.jpg'].map((name) => ({
    section: 'caption',
    kind: 'caption.predict',
    label: `demo: caption ${name}`,
    input: { image: `sample:content/${name}` },
  })),
];

/** The deterministic id of a demo job: section, then a hash of its kind and input. */
export function demoId(d: DemoJob): string {
  const hash = createHash('sha256').update(JSON.stringify([d.kind, d.input])).digest('hex').slice(0, 10);
  return `demo-${d.section}-${hash}`;
}

/**
 * Submit one demo job (the same id returns the cached job). A demo that cannot be submitted (its kind
 * is not offered, or its input no longer fits the kind's schema) is reported and left out of the page.
 */
export async function submitDemo(
  d: DemoJob,
  submit: (kind: string, input: unknown, id: string) => Promise<JobInfo>,
  log: (line: string) => void = (line) => process.stderr.write(line + '\n'),
): Promise<JobInfo | undefined> {
  try {
    return await submit(d.kind, d.input, demoId(d));
  } catch (err) {
    log(`studio: demo ${d.section} (${d.kind}) left out: ${(err as Error).message}`);
    return undefined;
  }
}
