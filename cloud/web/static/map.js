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
  const pad = 0.006;
  return { min_lat: Math.min(...near.map((p) => p.lat)) - pad,
           max_lat: Math.max(...near.map((p) => p.lat)) + pad,
           min_lon: Math.min(...near.map((p) => p.lon)) - pad,
           max_lon: Math.max(...near.map((p) => p.lon)) + pad };
}

function drawMap(city, bounds, width, height, stateOf, title, labelled) {
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
  const taken = [];  // label boxes already placed: [x0, y0, x1, y1]
  const free = (b) => b[0] >= 0 && b[2] <= width && b[1] >= 18 && b[3] <= height
    && !taken.some((o) => b[0] < o[2] && o[0] < b[2] && b[1] < o[3] && o[1] < b[3]);
  const placed = places(city).map((p) => ({ p, xy: project([p.lat, p.lon]) }))
    .filter(({ xy: [x, y] }) => x >= 0 && y >= 0 && x <= width && y <= height);
  for (const { xy: [x, y] } of placed) taken.push([x - 10, y - 10, x + 10, y + 10]);
  for (const { p, xy: [x, y] } of placed) {
    const st = stateOf(p);
    const g = svg("g", { class: "place", "data-id": p.id, "data-state": st.key },
      svg("title", {}, `${p.name}: ${st.text}`),
      shape(p.kind, x, y, 9, STATE_COLORS[st.key] || STATE_COLORS.unknown),
      svg("text", { x, y: y + 4, "text-anchor": "middle", class: "marker-letter" },
        LETTERS[p.kind] || "?"));
    if (labelled(p)) {
      // the first of right, left, below, above where the two lines overlap nothing
      const w = Math.max(p.name.length, st.text.length) * 7 + 6;
      const spots = [[x + 13, y - 12, "start"], [x - 13, y - 12, "end"],
                     [x - w / 2, y + 12, "start"], [x - w / 2, y - 38, "start"],
                     [x + 13, y + 6, "start"], [x - 13, y + 6, "end"],
                     [x + 13, y - 32, "start"], [x - 13, y - 32, "end"],
                     [x + 13, y + 26, "start"], [x - 13, y + 26, "end"],
                     [x - w / 2, y + 36, "start"], [x - w / 2, y - 62, "start"]];
      let spot = spots[0], box = null;
      for (const s of spots) {
        const x0 = s[2] === "end" ? s[0] - w : s[0];
        const b = [x0, s[1], x0 + w, s[1] + 26];
        if (free(b)) { spot = s; box = b; break; }
      }
      if (!box) {  // everything overlaps something: at least stay inside the map
        for (const s of spots) {
          const x0 = s[2] === "end" ? s[0] - w : s[0];
          const b = [x0, s[1], x0 + w, s[1] + 26];
          if (b[0] >= 0 && b[2] <= width && b[1] >= 18 && b[3] <= height) {
            spot = s; box = b; break;
          }
        }
      }
      if (!box) {
        const x0 = spot[2] === "end" ? spot[0] - w : spot[0];
        box = [x0, spot[1], x0 + w, spot[1] + 26];
      }
      taken.push(box);
      g.append(svg("text", { x: spot[0], y: spot[1] + 10, class: "marker-label",
                             "text-anchor": spot[2] }, p.name),
        svg("text", { x: spot[0], y: spot[1] + 23, class: "marker-state",
                      "text-anchor": spot[2] }, st.text));
    }
    layer.append(g);
  }
  return root;
}

// Draws into `host`; stateOf(place) -> {key: ok|low|...|offline, text}.
export function renderMap(host, city, stateOf) {
  const inner = centreBounds(city);
  const inside = (p) => p.lat >= inner.min_lat && p.lat <= inner.max_lat
    && p.lon >= inner.min_lon && p.lon <= inner.max_lon;
  // the whole area labels only what the enlarged centre does not show
  const whole = drawMap(city, city.bounds, 400, 470, stateOf, city.name_vi, (p) => !inside(p));
  const centre = drawMap(city, inner, 540, 470, stateOf,
    `${city.name_vi} — ${t("kind_camera")}`, () => true);
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
