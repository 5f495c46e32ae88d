/**
 * A small TrueType subsetter, used once to cut the bundled DejaVu Sans fonts down to the characters
 * figures need (Latin, Greek, punctuation, math symbols): about 1/6 of the size. Glyph ids are kept
 * (dropped glyphs become empty), so hmtx, kern and hinting tables stay valid without renumbering;
 * cmap is rebuilt so that characters outside the subset fall back to other fonts instead of
 * rendering blank. Layout tables (GSUB/GPOS/GDEF/MATH) are dropped; the old-style kern table stays.
 */

const DROPPED_TABLES = new Set(['GSUB', 'GPOS', 'GDEF', 'MATH', 'FFTM', 'DSIG', 'LTSH', 'VDMX', 'hdmx']);

/** Unicode ranges kept by default (inclusive). */
export const DEFAULT_SUBSET_RANGES: [number, number][] = [
  [0x20, 0x7e], // ASCII
  [0xa0, 0x17f], // Latin-1 supplement, Latin extended-A
  [0x370, 0x3ff], // Greek
  [0x2010, 0x205e], // dashes, quotes, bullets, ellipsis, primes
  [0x2070, 0x209c], // super- and subscripts
  [0x20ac, 0x20ac], // euro
  [0x2122, 0x2122],
  [0x2190, 0x21ff], // arrows
  [0x2200, 0x22ff], // mathematical operators
  [0x25a0, 0x25ff], // geometric shapes (legend markers)
  [0xfffd, 0xfffd],
];

interface TableRecord {
  tag: string;
  offset: number;
  length: number;
}

function readTables(font: Buffer): Map<string, TableRecord> {
  const numTables = font.readUInt16BE(4);
  const tables = new Map<string, TableRecord>();
  for (let i = 0; i < numTables; i++) {
    const o = 12 + i * 16;
    tables.set(font.toString('latin1', o, o + 4), { tag: font.toString('latin1', o, o + 4), offset: font.readUInt32BE(o + 8), length: font.readUInt32BE(o + 12) });
  }
  return tables;
}

/** Codepoint -> glyph id from the (3,1) or (0,*) format-4 cmap subtable. */
function readCmap(font: Buffer, cmap: TableRecord): Map<number, number> {
  const base = cmap.offset;
  const n = font.readUInt16BE(base + 2);
  let sub = -1;
  for (let i = 0; i < n; i++) {
    const platform = font.readUInt16BE(base + 4 + i * 8);
    const encoding = font.readUInt16BE(base + 6 + i * 8);
    const offset = font.readUInt32BE(base + 8 + i * 8);
    if (font.readUInt16BE(base + offset) !== 4) continue;
    if ((platform === 3 && encoding === 1) || (platform === 0 && sub < 0)) sub = base + offset;
  }
  if (sub < 0) throw new Error('font has no format-4 cmap subtable');
  const segX2 = font.readUInt16BE(sub + 6);
  const ends = sub + 14;
  const starts = ends + segX2 + 2;
  const deltas = starts + segX2;
  const rangeOffsets = deltas + segX2;
  const map = new Map<number, number>();
  for (let s = 0; s < segX2 / 2; s++) {
    const end = font.readUInt16BE(ends + s * 2);
    const start = font.readUInt16BE(starts + s * 2);
    const delta = font.readInt16BE(deltas + s * 2);
    const ro = font.readUInt16BE(rangeOffsets + s * 2);
    for (let c = start; c <= end && c !== 0xffff; c++) {
      let g: number;
      if (ro === 0) g = (c + delta) & 0xffff;
      else {
        const at = rangeOffsets + s * 2 + ro + (c - start) * 2;
        g = font.readUInt16BE(at);
        if (g !== 0) g = (g + delta) & 0xffff;
      }
      if (g !== 0) map.set(c, g);
    }
  }
  return map;
}

/** A (3,1) format-4 cmap with one segment per run of consecutive codepoints and glyph ids. */
function buildCmap(map: Map<number, number>): Buffer {
  const codes = [...map.keys()].sort((a, b) => a - b).filter((c) => c < 0xffff);
  const segs: { start: number; end: number; delta: number }[] = [];
  for (const c of codes) {
    const g = map.get(c)!;
    const last = segs[segs.length - 1];
    if (last && c === last.end + 1 && ((g - c) & 0xffff) === last.delta) last.end = c;
    else segs.push({ start: c, end: c, delta: (g - c) & 0xffff });
  }
  segs.push({ start: 0xffff, end: 0xffff, delta: 1 });
  const segCount = segs.length;
  const subLen = 16 + segCount * 8;
  const out = Buffer.alloc(4 + 8 + subLen);
  out.writeUInt16BE(0, 0);
  out.writeUInt16BE(1, 2);
  out.writeUInt16BE(3, 4);
  out.writeUInt16BE(1, 6);
  out.writeUInt32BE(12, 8);
  const s = 12;
  const entrySelector = Math.floor(Math.log2(segCount));
  const searchRange = 2 * 2 ** entrySelector;
  out.writeUInt16BE(4, s);
  out.writeUInt16BE(subLen, s + 2);
  out.writeUInt16BE(0, s + 4);
  out.writeUInt16BE(segCount * 2, s + 6);
  out.writeUInt16BE(searchRange, s + 8);
  out.writeUInt16BE(entrySelector, s + 10);
  out.writeUInt16BE(segCount * 2 - searchRange, s + 12);
  segs.forEach((seg, i) => {
    out.writeUInt16BE(seg.end, s + 14 + i * 2);
    out.writeUInt16BE(seg.start, s + 16 + segCount * 2 + i * 2);
    out.writeUInt16BE(seg.delta, s + 16 + segCount * 4 + i * 2);
    out.writeUInt16BE(0, s + 16 + segCount * 6 + i * 2);
  });
  return out;
}

function checksum(buf: Buffer): number {
  let sum = 0;
  const padded = buf.length % 4 === 0 ? buf : Buffer.concat([buf, Buffer.alloc(4 - (buf.length % 4))]);
  for (let i = 0; i < padded.length; i += 4) sum = (sum + padded.readUInt32BE(i)) >>> 0;
  return sum;
}

/** Subset a TrueType (glyf-based) font to the given codepoints; returns a new font file. */
export function subsetTrueType(font: Buffer, ranges: [number, number][] = DEFAULT_SUBSET_RANGES): Buffer {
  const tables = readTables(font);
  for (const t of ['head', 'maxp', 'loca', 'glyf', 'cmap']) if (!tables.has(t)) throw new Error(`not a TrueType font: no ${t} table`);
  const head = tables.get('head')!;
  const numGlyphs = font.readUInt16BE(tables.get('maxp')!.offset + 4);
  const longLoca = font.readInt16BE(head.offset + 50) === 1;
  const loca = tables.get('loca')!.offset;
  const glyfBase = tables.get('glyf')!.offset;
  const glyphRange = (g: number): [number, number] =>
    longLoca ? [font.readUInt32BE(loca + g * 4), font.readUInt32BE(loca + g * 4 + 4)] : [font.readUInt16BE(loca + g * 2) * 2, font.readUInt16BE(loca + g * 2 + 2) * 2];

  const fullCmap = readCmap(font, tables.get('cmap')!);
  const keptCmap = new Map<number, number>();
  for (const [c, g] of fullCmap) if (ranges.some(([a, b]) => c >= a && c <= b)) keptCmap.set(c, g);

  // Keep .notdef and every mapped glyph, then the components of composite glyphs.
  const keep = new Set<number>([0, ...keptCmap.values()]);
  const stack = [...keep];
  while (stack.length) {
    const g = stack.pop()!;
    const [a, b] = glyphRange(g);
    if (b <= a || font.readInt16BE(glyfBase + a) >= 0) continue;
    let p = glyfBase + a + 10;
    for (;;) {
      const flags = font.readUInt16BE(p);
      const comp = font.readUInt16BE(p + 2);
      if (!keep.has(comp)) {
        keep.add(comp);
        stack.push(comp);
      }
      p += 4 + (flags & 0x0001 ? 4 : 2);
      if (flags & 0x0008) p += 2;
      else if (flags & 0x0040) p += 4;
      else if (flags & 0x0080) p += 8;
      if (!(flags & 0x0020)) break;
    }
  }

  const glyfParts: Buffer[] = [];
  const newLoca = Buffer.alloc((numGlyphs + 1) * 4);
  let cursor = 0;
  for (let g = 0; g < numGlyphs; g++) {
    newLoca.writeUInt32BE(cursor, g * 4);
    if (!keep.has(g)) continue;
    const [a, b] = glyphRange(g);
    if (b <= a) continue;
    const len = b - a;
    const padded = Buffer.alloc(len + ((4 - (len % 4)) % 4));
    font.copy(padded, 0, glyfBase + a, glyfBase + b);
    glyfParts.push(padded);
    cursor += padded.length;
  }
  newLoca.writeUInt32BE(cursor, numGlyphs * 4);

  const out = new Map<string, Buffer>();
  for (const [tag, t] of tables) {
    if (DROPPED_TABLES.has(tag)) continue;
    out.set(tag, Buffer.from(font.subarray(t.offset, t.offset + t.length)));
  }
  out.set('glyf', Buffer.concat(glyfParts));
  out.set('loca', newLoca);
  out.set('cmap', buildCmap(keptCmap));
  const newHead = out.get('head')!;
  newHead.writeInt16BE(1, 50); // long loca
  newHead.writeUInt32BE(0, 8); // checkSumAdjustment, set below
  if (out.has('post')) {
    // Format 3: no glyph names (format 2's name table is most of post's size).
    const post = Buffer.from(out.get('post')!.subarray(0, 32));
    post.writeUInt32BE(0x00030000, 0);
    out.set('post', post);
  }

  const tags = [...out.keys()].sort();
  const n = tags.length;
  const entrySelector = Math.floor(Math.log2(n));
  const searchRange = 16 * 2 ** entrySelector;
  const header = Buffer.alloc(12 + n * 16);
  header.writeUInt32BE(font.readUInt32BE(0), 0);
  header.writeUInt16BE(n, 4);
  header.writeUInt16BE(searchRange, 6);
  header.writeUInt16BE(entrySelector, 8);
  header.writeUInt16BE(n * 16 - searchRange, 10);
  const bodies: Buffer[] = [];
  let offset = header.length;
  tags.forEach((tag, i) => {
    const body = out.get(tag)!;
    const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
    const r = 12 + i * 16;
    header.write(tag, r, 'latin1');
    header.writeUInt32BE(checksum(body), r + 4);
    header.writeUInt32BE(offset, r + 8);
    header.writeUInt32BE(body.length, r + 12);
    bodies.push(padded);
    offset += padded.length;
  });
  const file = Buffer.concat([header, ...bodies]);
  const headAt = header.readUInt32BE(12 + tags.indexOf('head') * 16 + 8);
  file.writeUInt32BE((0xb1b0afba - checksum(file)) >>> 0, headAt + 8);
  return file;
}
