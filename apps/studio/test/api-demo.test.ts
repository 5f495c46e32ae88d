/**
 * The landing page's demo jobs fit the real kinds' schemas (the pipelines' kind modules are light: this
 * loads no tfjs), so a schema change that would silently drop a demo section fails here instead.
 */
import test from 'ava';
import { join } from 'node:path';
import { parseJobInput } from '@convlab/jobs';
import { DEMO_JOBS, demoId } from '../src/server/demo.js';
import { DEFAULT_KIND_MODULES, loadKinds } from '../src/server/kinds.js';
import { References } from '../src/server/references.js';
import { UploadStore, DEFAULT_UPLOAD_LIMITS } from '../src/server/uploads.js';
import { ROOT } from './api-helpers.js';

test('every demo job is valid input for its kind, with its sample references resolved', async (t) => {
  const kinds = await loadKinds(DEFAULT_KIND_MODULES);
  const refs = new References(join(ROOT, 'assets'), new UploadStore('/nonexistent', DEFAULT_UPLOAD_LIMITS));
  t.deepEqual(new Set(DEMO_JOBS.map((d) => d.section)), new Set(['style', 'visualize', 'top9', 'caption']));
  for (const d of DEMO_JOBS) {
    const entry = kinds.get(d.kind);
    t.truthy(entry, `kind ${d.kind} is offered`);
    const input = await refs.resolveInput(d.input, entry!.imageFields);
    t.notThrows(() => parseJobInput(entry!.kind, input), `${d.section}: ${JSON.stringify(d.input)}`);
    t.deepEqual(refs.toRefs(input), d.input, 'responses show the references again');
  }
  const ids = DEMO_JOBS.map(demoId);
  t.is(new Set(ids).size, ids.length, 'distinct ids');
  t.true(ids.every((id) => /^demo-[a-z0-9]+-[0-9a-f]{10}$/.test(id)));
  t.deepEqual(DEMO_JOBS.map(demoId), ids, 'deterministic');
});
