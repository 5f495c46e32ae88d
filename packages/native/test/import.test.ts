/**
 * Importing @convlab/native is cheap and never throws; without the addon, installNativeKernels
 * rejects with a reason the engine can print. Runs in child processes so the addon state is fresh.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));

function runWith(env: Record<string, string>, code: string): { out: string; status: number | null } {
  const r = spawnSync(process.execPath, ['--import=tsx', '--conditions=@convlab/source', '--input-type=module', '-e', code], {
    cwd: pkgDir, env: { ...process.env, ...env }, encoding: 'utf8',
  });
  return { out: `${r.stdout}${r.stderr}`, status: r.status };
}

const probe = `
const m = await import('@convlab/native');
console.log('status', JSON.stringify(m.nativeStatus()));
try { await m.installNativeKernels(); console.log('installed'); } catch (e) { console.log('error', e.message); }
`;

test('a missing addon: import works, install rejects with the reason', (t) => {
  const { out, status } = runWith({ CONVLAB_NATIVE_ADDON: '/nonexistent/convlab_native.node' }, probe);
  t.is(status, 0, out);
  t.regex(out, /error addon not built \(libdnnl-dev missing\?/);
  t.regex(out, /"available":false/);
});

test('a broken addon file: install rejects with a rebuild hint', (t) => {
  const { out, status } = runWith({ CONVLAB_NATIVE_ADDON: fileURLToPath(import.meta.url) }, probe);
  t.is(status, 0, out);
  t.regex(out, /error addon failed to load .*build:addon/);
});

test('CONVLAB_NATIVE_ADDON=off disables the native kernels', (t) => {
  const { out } = runWith({ CONVLAB_NATIVE_ADDON: 'off' }, probe);
  t.regex(out, /error disabled by CONVLAB_NATIVE_ADDON=off/);
});

test('CONVLAB_NATIVE_GUARD=1 catches a write past the end of a kernel output', (t) => {
  const code = `
const { allocFloat32, checkOutputGuards } = await import('./src/addon.ts');
const ok = allocFloat32(100000);
ok.fill(1);
checkOutputGuards('fill');
console.log('in bounds ok');
const y = allocFloat32(10);
new Float32Array(y.buffer)[y.byteOffset / 4 + 10] = 1;
try { checkOutputGuards('Overrun'); console.log('missed'); } catch (e) { console.log('caught', e.message); }
`;
  const { out, status } = runWith({ CONVLAB_NATIVE_GUARD: '1' }, code);
  t.is(status, 0, out);
  t.regex(out, /in bounds ok/);
  t.regex(out, /caught Overrun: a native kernel wrote outside its 10-value output/);
});
