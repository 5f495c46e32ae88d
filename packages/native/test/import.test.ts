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
