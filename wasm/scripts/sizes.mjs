// Lists the largest functions of a .wasm that still has its name section, and the size of
// each section: `node scripts/sizes.mjs file.wasm [top]`. Used to see what dominates the
// binary (twiggy gives the same by hand).
import { readFileSync } from "node:fs";

const buf = readFileSync(process.argv[2]);
const top = Number(process.argv[3] ?? 25);
let p = 8;
const leb = () => {
  let r = 0, s = 0, b;
  do { b = buf[p++]; r |= (b & 0x7f) << s; s += 7; } while (b & 0x80);
  return r >>> 0;
};
const sections = [];
let imports = 0;
const bodies = [];
const names = new Map();
const dataSegs = [];
while (p < buf.length) {
  const id = buf[p++];
  const size = leb();
  const start = p;
  let name = String(id);
  if (id === 0) {
    const n = leb();
    name = buf.subarray(p, p + n).toString();
    p += n;
    if (name === "name") {
      while (p < start + size) {
        const sub = buf[p++];
        const len = leb();
        const end = p + len;
        if (sub === 1) {
          const count = leb();
          for (let i = 0; i < count; i++) {
            const idx = leb();
            const l = leb();
            names.set(idx, buf.subarray(p, p + l).toString());
            p += l;
          }
        }
        p = end;
      }
    }
  } else if (id === 2) {
    const count = leb();
    for (let i = 0; i < count; i++) {
      let l = leb(); p += l; l = leb(); p += l;
      const kind = buf[p++];
      if (kind === 0) { leb(); imports++; }
      else if (kind === 1) { p++; const f = buf[p++]; leb(); if (f & 1) leb(); }
      else if (kind === 2) { const f = buf[p++]; leb(); if (f & 1) leb(); }
      else if (kind === 3) { p += 2; }
      else if (kind === 4) { p++; leb(); }
    }
  } else if (id === 10) {
    const count = leb();
    for (let i = 0; i < count; i++) {
      const l = leb();
      bodies.push([imports + i, l]);
      p += l;
    }
  } else if (id === 11) {
    dataSegs.push(size);
  }
  sections.push([name, size]);
  p = start + size;
}
console.log("sections:", sections.map(([n, s]) => `${n}=${s}`).join(" "));
bodies.sort((a, b) => b[1] - a[1]);
const total = bodies.reduce((s, b) => s + b[1], 0);
console.log(`code: ${bodies.length} functions, ${total} bytes`);
for (const [idx, l] of bodies.slice(0, top)) {
  console.log(String(l).padStart(7), (names.get(idx) ?? `func${idx}`).slice(0, 140));
}
