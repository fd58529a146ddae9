// DOM and SVG by hand: a small element builder, a time line chart and a bar chart.
const SVG = "http://www.w3.org/2000/svg";

// el("div", {class: "x"}, "text", child) — attributes, then text or nodes as children.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "style") node.style.cssText = v;  // CSSOM: allowed by the page's CSP
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v !== null && v !== undefined) node.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function hhmm(ms) {
  const d = new Date(ms + 7 * 3600 * 1000).toISOString();
  return `${d.slice(5, 10)} ${d.slice(11, 16)}`;
}

// A line over time. points: [{t: ms, v}], levels: [{value, label, color}] drawn as
// labelled horizontal lines (the river's alarm levels).
export function lineChart({ points, levels = [], width = 470, height = 190, unit = "",
                            title = "" }) {
  const pad = { l: 42, r: 96, t: 10, b: 24 };
  const w = width - pad.l - pad.r, h = height - pad.t - pad.b;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
                            "aria-label": title, class: "chart" });
  if (!points.length) return root;
  const t0 = points[0].t, t1 = Math.max(points[points.length - 1].t, t0 + 1);
  const top = niceMax(Math.max(...points.map((p) => p.v), ...levels.map((l) => l.value)) * 1.05);
  const x = (t) => pad.l + ((t - t0) / (t1 - t0)) * w;
  const y = (v) => pad.t + h - (v / top) * h;
  for (let i = 0; i <= 4; i++) {
    const v = (top / 4) * i;
    root.append(svg("line", { x1: pad.l, x2: pad.l + w, y1: y(v), y2: y(v), class: "grid" }),
      svg("text", { x: pad.l - 4, y: y(v) + 4, "text-anchor": "end", class: "tick" },
        `${+v.toFixed(2)}${unit}`));
  }
  for (const f of [0, 0.5, 1]) {
    const t = t0 + (t1 - t0) * f;
    root.append(svg("text", { x: x(t), y: height - 6, "text-anchor": "middle", class: "tick" },
      hhmm(t)));
  }
  for (const l of levels) {
    root.append(svg("line", { x1: pad.l, x2: pad.l + w, y1: y(l.value), y2: y(l.value),
                              stroke: l.color, class: "level" }),
      svg("text", { x: pad.l + w + 4, y: y(l.value) + 4, class: "level-label",
                    fill: l.color }, l.label));
  }
  const d = points.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`);
  root.append(svg("path", { d: d.join(""), class: "series" }));
  return root;
}

// Vertical bars. bars: [{label, v, color, title}]; each bar carries its own tooltip.
export function barChart({ bars, width = 440, height = 160, unit = "", title = "" }) {
  const pad = { l: 36, r: 8, t: 8, b: 22 };
  const w = width - pad.l - pad.r, h = height - pad.t - pad.b;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
                            "aria-label": title, class: "chart" });
  if (!bars.length) return root;
  const top = niceMax(Math.max(...bars.map((b) => b.v)));
  const bw = w / bars.length;
  for (let i = 0; i <= 2; i++) {
    const v = (top / 2) * i;
    const yy = pad.t + h - (v / top) * h;
    root.append(svg("line", { x1: pad.l, x2: pad.l + w, y1: yy, y2: yy, class: "grid" }),
      svg("text", { x: pad.l - 4, y: yy + 4, "text-anchor": "end", class: "tick" },
        `${+v.toFixed(1)}${unit}`));
  }
  bars.forEach((b, i) => {
    const bh = (b.v / top) * h;
    root.append(svg("rect", { x: pad.l + i * bw + 1, y: pad.t + h - bh,
                              width: Math.max(bw - 2, 1), height: bh,
                              fill: b.color || "#3b6ea5", class: "bar" },
      svg("title", {}, b.title || `${b.label}: ${b.v}${unit}`)));
  });
  const step = Math.max(1, Math.ceil(bars.length / 6));
  bars.forEach((b, i) => {
    if (i % step === 0) {
      root.append(svg("text", { x: pad.l + i * bw + bw / 2, y: height - 6,
                                "text-anchor": "middle", class: "tick" }, b.label));
    }
  });
  return root;
}
