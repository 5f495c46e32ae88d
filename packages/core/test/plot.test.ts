import test from 'ava';
import type { RgbImage } from '../src/image.js';
import { linePlot } from '../src/draw/plot.js';

const pixel = (img: RgbImage, x: number, y: number): number[] => Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));
const isWhite = (p: number[]): boolean => p.every((v) => v > 245);

/** Pixels near (x, y) that have the series colour (tab10 blue #1f77b4) within a tolerance. */
function blueNear(img: RgbImage, x: number, y: number, r = 3): number {
  let n = 0;
  for (let dy = -r; dy <= r; dy++) {
    for (let dx = -r; dx <= r; dx++) {
      const p = pixel(img, Math.round(x) + dx, Math.round(y) + dy);
      if (Math.abs(p[0] - 0x1f) < 40 && Math.abs(p[1] - 0x77) < 40 && Math.abs(p[2] - 0xb4) < 40) n++;
    }
  }
  return n;
}

/** The plot area: find the left axis (dark vertical line) and bottom axis. */
function frame(img: RgbImage): { left: number; bottom: number } {
  const midY = Math.floor(img.height / 2);
  let left = -1;
  for (let x = 0; x < img.width / 2; x++) {
    const p = pixel(img, x, midY);
    if (p[0] < 100 && pixel(img, x, midY - 20)[0] < 100 && pixel(img, x, midY + 20)[0] < 100) {
      left = x;
      break;
    }
  }
  let bottom = -1;
  const midX = Math.floor(img.width / 2);
  for (let y = img.height - 1; y > img.height / 2; y--) {
    if (pixel(img, midX, y)[0] < 100 && pixel(img, midX + 30, y)[0] < 100 && pixel(img, midX - 30, y)[0] < 100) {
      bottom = y;
      break;
    }
  }
  return { left, bottom };
}

test('output size, axes, and the line where the data are', (t) => {
  // A straight line from (0, 0) to (100, 100): it runs diagonally across the plot area.
  const values = Array.from({ length: 101 }, (_, i) => i);
  const img = linePlot({ series: [{ name: 'loss', values }], width: 500, height: 320, title: 'diagonal', xLabel: 'step', yLabel: 'value' });
  t.is(img.width, 500);
  t.is(img.height, 320);
  t.true(isWhite(pixel(img, 2, 2)));
  const { left, bottom } = frame(img);
  t.true(left > 20 && left < 120, `left axis at ${left}`);
  t.true(bottom > 200 && bottom < 310, `bottom axis at ${bottom}`);
  const right = img.width - 20;
  const column = (x: number): number => {
    for (let y = 0; y < bottom; y++) if (blueNear(img, x, y, 0) > 0) return y;
    return -1;
  };
  // The line y = x: rises to the right, and evenly spaced columns are evenly spaced in height.
  const xs = [left + 60, left + 160, left + 260];
  const ys = xs.map(column);
  t.true(ys.every((y) => y > 0), `line found at ${ys}`);
  t.true(ys[0] > ys[1] && ys[1] > ys[2]);
  t.true(Math.abs(ys[0] - ys[1] - (ys[1] - ys[2])) <= 2, `collinear: ${ys}`);
  // Away from the line (bottom-right corner of the plot area) is background or grid (light).
  const p = pixel(img, right - 15, bottom - 15);
  t.true(p.every((v) => v > 200), `corner pixel ${p}`);
});

test('log axis, legend with several series, NaN gaps, scatter style', (t) => {
  const it = Array.from({ length: 50 }, (_, i) => i + 1);
  const img = linePlot({
    series: [
      { name: 'total', values: it.map((i) => 1e4 / i) },
      { name: 'style', values: it.map((i) => (i === 10 ? Number.NaN : 5e3 / i)) },
      { name: 'points', values: it.map((i) => 100 + i), style: 'points' },
    ],
    logY: true,
    smooth: 0.5,
  });
  t.is(img.width, 720);
  t.is(img.height, 440);
  // The legend box has dark text: count non-white pixels overall as a sanity check of drawing.
  let colored = 0;
  for (let i = 0; i < img.data.length; i += 3) if (img.data[i] < 200 || img.data[i + 2] < 200) colored++;
  t.true(colored > 2000);
  t.throws(() => linePlot({ series: [{ name: 'bad', values: [0, -1] }], logY: true }), { message: /positive/ });
  t.throws(() => linePlot({ series: [] }), { message: /no series/ });
  t.throws(() => linePlot({ series: [{ name: 'x', values: [1, 2], x: [1] }] }), { message: /x coordinates/ });
});
