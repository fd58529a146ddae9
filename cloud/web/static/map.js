// The city map as SVG from the site's own coordinates: the whole area, and the city
// centre enlarged beside it. Every marker says its state in words as well as colour.
import { el, svg } from "./charts.js";
import { t } from "./i18n.js";

export const STATE_COLORS = {
  ok: "#2e7d32", informational: "#607d8b", low: "#c9a400", medium: "#ef6c00",
  high: "#d32f2f", critical: "#7b1fa2", offline: "#757575", stale: "#9e9e9e",
  unknown: "#bdbdbd",
};
const SHAPES = { river: "circle", rain: "diamond", air: "hexagon", camera: "square" };
const LETTERS = { river: "N", rain: "M", air: "K", camera: "C" };

function shape(kind, x, y, r, fill) {
  const s = SHAPES[kind] || "circle";
  if (s === "circle") return svg("circle", { cx: x, cy: y, r, fill, class: "marker" });
  if (s === "square") {
    return svg("rect", { x: x - r, y: y - r, width: 2 * r, height: 2 * r, fill,
                         class: "marker" });
  }
  const n = s === "diamond" ? 4 : 6;
  const pts = [];
  for (let i = 0; i < n; i++) {
    const a = (Math.PI * 2 * i) / n + (n === 4 ? 0 : Math.PI / 6);
    pts.push(`${(x + r * 1.15 * Math.cos(a)).toFixed(1)},${(y + r * 1.15 * Math.sin(a)).toFixed(1)}`);
  }
  return svg("polygon", { points: pts.join(" "), fill, class: "marker" });
}

function projector(bounds, width, height, margin) {
  const midLat = ((bounds.min_lat + bounds.max_lat) / 2) * (Math.PI / 180);
  const kx = Math.cos(midLat);
  const spanX = Math.max((bounds.max_lon - bounds.min_lon) * kx, 1e-6);
  const spanY = Math.max(bounds.max_lat - bounds.min_lat, 1e-6);
  const scale = Math.min((width - 2 * margin) / spanX, (height - 2 * margin) / spanY);
  const ox = (width - spanX * scale) / 2, oy = (height - spanY * scale) / 2;
  return ([lat, lon]) => [ox + (lon - bounds.min_lon) * kx * scale,
                          oy + (bounds.max_lat - lat) * scale];
}

function places(city) {
  return [
    ...city.stations.filter((s) => s.lat !== null && s.lon !== null)
      .map((s) => ({ id: s.id, kind: s.kind, name: s.name, lat: s.lat, lon: s.lon })),
    ...city.cameras.map((c) => ({ id: c.camera, kind: "camera", name: c.name, lat: c.lat,
                                  lon: c.lon })),
  ];
}

function centreBounds(city) {
  const cams = city.cameras.length ? city.cameras : city.stations;
  const lat = cams.reduce((a, c) => a + c.lat, 0) / cams.length;
  const lon = cams.reduce((a, c) => a + c.lon, 0) / cams.length;
  const near = places(city).filter((p) => Math.abs(p.lat - lat) < 0.03
                                         && Math.abs(p.lon - lon) < 0.045);
  const pad = 0.004;
  return { min_lat: Math.min(...near.map((p) => p.lat)) - pad,
           max_lat: Math.max(...near.map((p) => p.lat)) + pad,
           min_lon: Math.min(...near.map((p) => p.lon)) - pad,
           max_lon: Math.max(...near.map((p) => p.lon)) + pad };
}

function drawMap(city, bounds, width, height, stateOf, title, labelAll) {
  const project = projector(bounds, width, height, 34);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
                            "aria-label": title, class: "citymap" },
    svg("rect", { x: 0, y: 0, width, height, class: "land" }),
    svg("text", { x: 8, y: 16, class: "map-title" }, title));
  root.append(svg("clipPath", { id: `clip-${width}` },
    svg("rect", { x: 0, y: 0, width, height })));
  const layer = svg("g", { "clip-path": `url(#clip-${width})` });
  root.append(layer);
  for (const line of city.lines) {
    const d = line.points.map((p, i) => {
      const [x, y] = project(p);
      return `${i ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`;
    }).join("");
    layer.append(svg("path", { d, class: `line ${line.kind}` }, svg("title", {}, line.name)));
  }
  for (const p of places(city)) {
    const [x, y] = project([p.lat, p.lon]);
    if (x < 0 || y < 0 || x > width || y > height) continue;
    const st = stateOf(p);
    const g = svg("g", { class: "place", "data-id": p.id, "data-state": st.key },
      svg("title", {}, `${p.name}: ${st.text}`),
      shape(p.kind, x, y, 9, STATE_COLORS[st.key] || STATE_COLORS.unknown),
      svg("text", { x, y: y + 4, "text-anchor": "middle", class: "marker-letter" },
        LETTERS[p.kind] || "?"));
    if (labelAll || p.kind !== "camera") {
      const left = x > width * 0.62;
      g.append(svg("text", { x: left ? x - 13 : x + 13, y: y - 2, class: "marker-label",
                             "text-anchor": left ? "end" : "start" }, p.name),
        svg("text", { x: left ? x - 13 : x + 13, y: y + 11, class: "marker-state",
                      "text-anchor": left ? "end" : "start" }, st.text));
    }
    layer.append(g);
  }
  return root;
}

// Draws into `host`; stateOf(place) -> {key: ok|low|...|offline, text}.
export function renderMap(host, city, stateOf) {
  const whole = drawMap(city, city.bounds, 400, 470, stateOf, city.name_vi, false);
  const centre = drawMap(city, centreBounds(city), 540, 470, stateOf,
    `${city.name_vi} — ${t("kind_camera")}`, true);
  host.replaceChildren(whole, centre, el("p", { class: "note" }, t("map_note")));
}

export function renderLegend(host) {
  const item = (key, label) => el("li", {},
    el("span", { class: "swatch", style: `background:${STATE_COLORS[key]}` }), label);
  host.replaceChildren(el("h3", {}, t("legend")), el("ul", { class: "legend-list" },
    item("ok", t("state_ok")), item("low", t("sev_low")), item("medium", t("sev_medium")),
    item("high", t("sev_high")), item("critical", t("sev_critical")),
    item("offline", t("state_offline")),
    el("li", {}, `N ${t("kind_river")} · M ${t("kind_rain")} · K ${t("kind_air")} · `
      + `C ${t("kind_camera")}`)));
}
