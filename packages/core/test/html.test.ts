import test from 'ava';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeImage, decodeImage, type RgbImage } from '../src/image.js';
import { escapeHtml, renderHtmlPage, sniffImageMime, writeHtmlPage } from '../src/html.js';

const tiny: RgbImage = { width: 2, height: 2, data: new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9]) };

function noisy(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  let s = 1;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = (s >>> 16) & 255;
  }
  return { width: w, height: h, data };
}

test('text is escaped everywhere; raw html only where asked', async (t) => {
  const html = await renderHtmlPage({
    title: 'Report <script>alert(1)</script>',
    intro: 'a & b\n\nsecond "paragraph"',
    sections: [
      {
        heading: '<img src=x onerror=alert(1)>',
        text: "it's <b>not</b> bold",
        table: { columns: ['<th>', 'value'], rows: [['<td>', 1234567], ['x', 0.000123456], ['y', 3.14159265]] },
        html: '<p class="raw">raw</p>',
        code: '{"cmd": "<rm -rf>"}',
      },
    ],
  });
  t.false(html.includes('<script>'));
  t.true(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  t.false(html.includes('<img src=x'));
  t.true(html.includes('&lt;b&gt;not&lt;/b&gt;'));
  t.true(html.includes('it&#39;s'));
  t.true(html.includes('<p>a &amp; b</p>'));
  t.true(html.includes('&quot;paragraph&quot;'));
  t.true(html.includes('<p class="raw">raw</p>'));
  t.true(html.includes('<pre><code>{&quot;cmd&quot;: &quot;&lt;rm -rf&gt;&quot;}</code></pre>'));
  t.true(html.includes('1,234,567'));
  t.true(html.includes('1.235e-4'));
  t.true(html.includes('3.142'));
  t.regex(html, /^<!doctype html>/);
  t.is(escapeHtml(`<>&"'`), '&lt;&gt;&amp;&quot;&#39;');
});

test('figures are inlined: RgbImage as PNG (or JPEG when much smaller), bytes and files as they are', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'convlab-html-'));
  try {
    const png = await encodeImage(tiny, 'png');
    await writeFile(join(dir, 'fig.png'), png);
    const page = {
      title: 'Figures',
      sections: [
        {
          heading: 'images',
          figures: [
            { image: tiny, caption: 'rgb <tiny>', pixelated: true },
            { image: await encodeImage(tiny, 'jpeg'), caption: 'jpeg bytes' },
            { image: 'fig.png', caption: 'from a file' },
            { image: noisy(400, 400), caption: 'photo-like' },
          ],
        },
      ],
    };
    const path = join(dir, 'report.html');
    await t.throwsAsync(() => writeHtmlPage(join(dir, 'elsewhere', 'r.html'), page), { message: /figure not found/ });
    await writeHtmlPage(path, { ...page });
    const html = await readFile(path, 'utf8');
    t.deepEqual((await readdir(dir)).sort(), ['fig.png', 'report.html']);
    const srcs = [...html.matchAll(/src="data:(image\/\w+);base64,([^"]+)"/g)];
    t.is(srcs.length, 4);
    t.is(srcs[0][1], 'image/png');
    t.is(srcs[1][1], 'image/jpeg');
    t.is(srcs[2][1], 'image/png');
    // Decoding the first embedded image gives the original pixels back.
    const back = await decodeImage(Buffer.from(srcs[0][2], 'base64'));
    t.deepEqual(back, tiny);
    t.true(html.includes('class="pixelated"'));
    t.true(html.includes('rgb &lt;tiny&gt;'));
    t.true(html.includes('width="2" height="2"'));
    // Random noise compresses no better as PNG; JPEG is chosen only if it is under 60% of the PNG.
    t.true(['image/png', 'image/jpeg'].includes(srcs[3][1]));
    t.false(/src="(?!data:)/.test(html), 'no external references');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a smooth photo-like image is embedded as JPEG; links are kept when asked', async (t) => {
  const w = 600;
  const h = 400;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = (y * w + x) * 3;
    data[i] = 128 + 100 * Math.sin(x / 17 + y / 31);
    data[i + 1] = 128 + 90 * Math.cos(x / 23 - y / 13);
    data[i + 2] = ((x * y) >> 6) & 255;
  }
  const html = await renderHtmlPage({ title: 't', sections: [{ heading: 'h', figures: [{ image: { width: w, height: h, data } }, { image: 'a b/c.png' }] }] }, { linkFiles: true, jpegAboveBytes: 1000 });
  t.regex(html, /src="data:image\/jpeg;base64,/);
  t.true(html.includes('src="a%20b/c.png"'));
  t.is(sniffImageMime(new Uint8Array([1, 2, 3])), undefined);
  await t.throwsAsync(() => renderHtmlPage({ title: 't', sections: [{ heading: 'h', figures: [{ image: new Uint8Array([1, 2, 3, 4]) }] }] }), { message: /not a PNG/ });
});
