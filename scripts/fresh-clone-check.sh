#!/usr/bin/env bash
# The README's first command, as a stranger's machine meets it: a fresh clone of HEAD, a fresh npm
# cache, and (as root, inside a private mount namespace) Debian's oneDNN headers and library hidden,
# so the native addon cannot build and `npm start` must run on the wasm fallback.
#   bash scripts/fresh-clone-check.sh [repo]     (repo defaults to this checkout; HEAD is cloned)
# Checks: npm ci succeeds, the addon says in one line why it was not built, `npm start` starts the studio
# and prints its URL, the landing page is served, every demo job finishes on the wasm backend, a result image
# is served, and Ctrl-C stops the studio and its workers.
set -euo pipefail
repo="$(cd "${1:-$(dirname "$0")/..}" && pwd)"

if [ "${CONVLAB_IN_NAMESPACE:-}" != 1 ]; then
  if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
    exec env CONVLAB_IN_NAMESPACE=1 unshare -m --propagation private bash "$0" "$repo"
  fi
  echo "fresh-clone-check: not root (or no unshare): oneDNN stays visible; checking install and quick start only" >&2
fi

if [ "${CONVLAB_IN_NAMESPACE:-}" = 1 ]; then
  # Hide oneDNN: an empty tmpfs over its headers, an empty file over each library file.
  for d in /usr/include/oneapi /usr/local/include/oneapi; do [ -d "$d" ] && mount -t tmpfs none "$d"; done
  empty="$(mktemp)"
  for f in /usr/lib/*/libdnnl.so* /usr/lib/libdnnl.so* /usr/local/lib/libdnnl.so*; do
    [ -e "$f" ] && mount --bind "$empty" "$(readlink -f "$f")" 2>/dev/null || true
  done
  echo "fresh-clone-check: oneDNN hidden (headers: $(ls /usr/include/oneapi 2>/dev/null | wc -l) entries)" >&2
fi

work="$(mktemp -d /tmp/convlab-fresh.XXXXXX)"
trap 'rm -rf "$work"' EXIT
git clone -q "$repo" "$work/convlab"
cd "$work/convlab"
# The README's first command.
first="$(awk '/^```sh$/{f=1;next} f&&NF{print;exit}' README.md | sed 's/[[:space:]]*#.*$//')"
[ "$first" = "npm ci && npm start" ] || { echo "fresh-clone-check: README's first command is now \"$first\"; update this script" >&2; exit 1; }
export npm_config_cache="$work/npm-cache" NX_DAEMON=false
start=$(date +%s)
npm ci --no-audit --no-fund > "$work/install.log" 2>&1 || { tail -40 "$work/install.log"; echo "fresh-clone-check: npm ci failed" >&2; exit 1; }
grep '^convlab native:' "$work/install.log" || { echo "fresh-clone-check: the install did not say whether the native addon was built" >&2; exit 1; }
# `npm start` starts the studio and runs until Ctrl-C: start it in its own process group, wait for the URL,
# let the landing page's demo jobs finish, fetch the page and a result image, then Ctrl-C the group.
setsid env -u CONVLAB_BACKEND -u CONVLAB_REQUIRE_NATIVE npm start -- --port 0 --runs "$work/runs" > "$work/start.log" 2>&1 &
starter=$!
stop_studio() { kill -INT -"$starter" 2>/dev/null || true; }
running() { pgrep -g "$starter" >/dev/null; }  # anything left of the studio's process group (npm, tsx, server, workers)
trap 'running && kill -KILL -"$starter" 2>/dev/null; rm -rf "$work"' EXIT
url=""
for _ in $(seq 1 240); do
  url="$(sed -n 's/^convlab studio: \(http[^ ]*\)$/\1/p' "$work/start.log" | head -1)"
  [ -n "$url" ] && break
  kill -0 "$starter" 2>/dev/null || { cat "$work/start.log"; echo "fresh-clone-check: npm start exited before printing its URL" >&2; exit 1; }
  sleep 0.5
done
[ -n "$url" ] || { cat "$work/start.log"; echo "fresh-clone-check: npm start printed no URL within 120 s" >&2; exit 1; }
echo "fresh-clone-check: studio at $url" >&2
URL="$url" node -e '
const base = process.env.URL, t0 = Date.now();
const get = async (p) => { const r = await fetch(base + p); if (!r.ok) throw new Error(`GET ${p}: ${r.status}`); return r; };
(async () => {
  const page = await (await get("")).text();
  if (!/<script/.test(page)) throw new Error("the landing page has no script");
  const { jobs } = await (await get("api/demo")).json();
  if (jobs.length < 3) throw new Error(`only ${jobs.length} demo jobs`);
  let infos;
  for (;;) {
    infos = await Promise.all(jobs.map(async (j) => (await get(`api/jobs/${j.id}`)).json()));
    if (infos.every((i) => ["done", "failed", "cancelled"].includes(i.status))) break;
    if (Date.now() - t0 > 900_000) throw new Error("demo jobs not finished after 15 min: " + infos.map((i) => `${i.kind} ${i.status}`).join(", "));
    await new Promise((r) => setTimeout(r, 2000));
  }
  const bad = infos.filter((i) => i.status !== "done");
  if (bad.length) throw new Error("demo jobs failed: " + JSON.stringify(bad.map((i) => ({ kind: i.kind, status: i.status, error: i.error }))));
  const want = process.env.CONVLAB_IN_NAMESPACE === "1" ? "wasm" : undefined;
  const backends = [...new Set(infos.map((i) => i.worker?.backend))];
  if (want && backends.some((b) => b !== want)) throw new Error(`backends ${backends}, expected ${want} with oneDNN hidden`);
  const style = infos.find((i) => i.kind === "style.stylize");
  const png = await get(`api/jobs/${style.id}/files/${style.result.image}`);
  if (png.headers.get("content-type") !== "image/png") throw new Error("the style result is not served as a PNG");
  console.log(`fresh-clone-check: ok: npm ci + npm start: studio up, ${infos.length} demo jobs done on ${backends.join("/")} in ${((Date.now() - t0) / 1000).toFixed(0)} s (${infos.map((i) => i.kind).join(", ")})`);
})().catch((err) => { console.error("fresh-clone-check: " + err.message); process.exit(1); });
' || { tail -30 "$work/start.log"; exit 1; }
# Ctrl-C, as a terminal sends it: SIGINT to the whole process group. The server and its workers must be gone
# within 20 s, and the studio must say it stopped.
stop_studio
for _ in $(seq 1 40); do running || break; sleep 0.5; done
if running; then pgrep -ag "$starter" >&2; echo "fresh-clone-check: processes left running 20 s after Ctrl-C" >&2; exit 1; fi
grep -q '^studio: stopped' "$work/start.log" || { tail -20 "$work/start.log"; echo "fresh-clone-check: the studio did not say it stopped" >&2; exit 1; }
echo "fresh-clone-check: took $(( $(date +%s) - start )) s" >&2
