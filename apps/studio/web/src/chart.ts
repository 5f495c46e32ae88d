/** A small line chart on a <canvas> for progress `values` (loss terms per iteration); log scale when they span decades. */
import { h } from './dom.js';
import { formatNumber } from './dom.js';

/** Axis labels: 3 significant digits, an exponent below 0.01 or from 10^5. */
function axisNumber(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a < 0.01 || a >= 1e5)) return v.toExponential(1);
  return Number(v.toPrecision(3)).toString();
}

const COLORS = ['#2563eb', '#d97706', '#059669', '#db2777', '#7c3aed', '#475569'];

export class LossChart {
  readonly el: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly legend: HTMLElement;
  private readonly series = new Map<string, { x: number; y: number }[]>();
  private frame = 0;

  constructor(title = 'Loss') {
    this.canvas = h('canvas', { class: 'chart-canvas', role: 'img', 'aria-label': `${title} curve` });
    this.legend = h('div', { class: 'chart-legend' });
    this.el = h('figure', { class: 'chart', hidden: true }, h('figcaption', {}, title), this.canvas, this.legend);
    // Redraw at the new size when the layout changes (e.g. the live image gives way to the result).
    if (typeof ResizeObserver !== 'undefined') {
      let width = 0;
      new ResizeObserver(() => {
        if (this.canvas.clientWidth !== width && this.series.size) {
          width = this.canvas.clientWidth;
          this.schedule();
        }
      }).observe(this.canvas);
    }
  }

  private schedule(): void {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.draw());
  }

  add(x: number, values: Record<string, number>): void {
    for (const [name, y] of Object.entries(values)) {
      if (!Number.isFinite(y)) continue;
      let s = this.series.get(name);
      if (!s) this.series.set(name, (s = []));
      const last = s[s.length - 1];
      if (last && last.x === x) last.y = y;
      else if (last && x < last.x) s.push({ x: last.x + 1, y }); // a new stage restarts its count: keep the curve going
      else s.push({ x, y });
    }
    // One point per term (a finished job opened afterwards) is no curve: the job's loss.png shows the history.
    this.el.hidden = ![...this.series.values()].some((pts) => pts.length >= 2);
    this.schedule();
  }

  get points(): number {
    let n = 0;
    for (const s of this.series.values()) n += s.length;
    return n;
  }

  draw(): void {
    this.frame = 0;
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth || 480;
    const hgt = c.clientHeight || 200;
    c.width = Math.round(w * dpr);
    c.height = Math.round(hgt * dpr);
    const ctx = c.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, hgt);
    const all = [...this.series.values()].flat();
    if (all.length === 0) return;
    const xs = all.map((p) => p.x);
    const ys = all.map((p) => p.y);
    const x0 = Math.min(...xs);
    const x1 = Math.max(...xs, x0 + 1);
    const positive = ys.every((y) => y > 0);
    const yMin = Math.min(...ys);
    const yMax = Math.max(...ys);
    const log = positive && yMax / yMin > 30;
    const f = (y: number) => (log ? Math.log10(y) : y);
    let lo = f(yMin);
    let hi = f(yMax);
    if (hi - lo < 1e-12) {
      hi += 0.5;
      lo -= 0.5;
    }
    const pad = { l: 64, r: 12, t: 10, b: 24 };
    const px = (x: number) => pad.l + ((x - x0) / (x1 - x0)) * (w - pad.l - pad.r);
    const py = (y: number) => pad.t + (1 - (f(y) - lo) / (hi - lo)) * (hgt - pad.t - pad.b);
    // axes and grid
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = '#64748b';
    ctx.strokeStyle = '#e2e8f0';
    ctx.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const v = lo + ((hi - lo) * i) / 4;
      const y = pad.t + (1 - i / 4) * (hgt - pad.t - pad.b);
      ctx.beginPath();
      ctx.moveTo(pad.l, y);
      ctx.lineTo(w - pad.r, y);
      ctx.stroke();
      ctx.textAlign = 'right';
      ctx.textBaseline = 'middle';
      ctx.fillText(axisNumber(log ? 10 ** v : v), pad.l - 6, y);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    ctx.fillText(String(x0), pad.l, hgt - pad.b + 6);
    ctx.fillText(String(x1), w - pad.r - 8, hgt - pad.b + 6);
    ctx.fillText(log ? 'iteration (loss on a log scale)' : 'iteration', (pad.l + w - pad.r) / 2, hgt - pad.b + 6);
    // lines
    let i = 0;
    this.legend.replaceChildren();
    for (const [name, s] of this.series) {
      const color = COLORS[i++ % COLORS.length];
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.75;
      ctx.beginPath();
      s.forEach((p, j) => (j === 0 ? ctx.moveTo(px(p.x), py(p.y)) : ctx.lineTo(px(p.x), py(p.y))));
      if (s.length === 1) ctx.arc(px(s[0].x), py(s[0].y), 2, 0, Math.PI * 2);
      ctx.stroke();
      const last = s[s.length - 1];
      this.legend.appendChild(h('span', { class: 'legend-item' }, h('span', { class: 'swatch', style: `background:${color}` }), `${name} ${formatNumber(last.y)}`));
    }
  }
}
