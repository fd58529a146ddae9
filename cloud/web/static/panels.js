// The tabs' contents: rivers and rain, air quality, traffic flow, violations, devices, KPIs.
// Each render function fetches what it shows; a refusal for the role shows as a note.
import { ApiError, get, imageUrl, post } from "./api.js";
import { barChart, el, lineChart } from "./charts.js";
import { duration, num, pct, t, when } from "./i18n.js";
import { STATE_COLORS } from "./map.js";

const LEVEL_COLORS = { 1: "#c9a400", 2: "#ef6c00", 3: "#d32f2f" };

export function refused(err) {
  if (err instanceof ApiError && err.status === 403) {
    return el("p", { class: "note refused" }, t("not_allowed"));
  }
  return el("p", { class: "error-inline" }, String(err.message || err));
}

async function guarded(host, build) {
  try {
    host.replaceChildren(...await build());
  } catch (err) {
    host.replaceChildren(refused(err));
  }
}

const table = (head, rows) => el("table", {},
  el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))),
  el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, c))))));

function bandOf(city, aqi) {
  return city.aqi_bands.find((b) => aqi <= b.hi) || city.aqi_bands[city.aqi_bands.length - 1];
}

export function bandBadge(city, aqi, lang) {
  const b = bandOf(city, aqi);
  return el("span", { class: `badge band-${b.key}`, style: `background:${b.color}` },
    `${aqi} · ${lang === "vi" ? b.name_vi : b.name_en}`);
}

export async function renderRivers(host, city) {
  await guarded(host, async () => {
    const out = [];
    for (const s of city.stations.filter((x) => x.kind === "river")) {
      const series = await get(`/api/v1/stations/${s.id}/readings?quantity=water_level`);
      const points = series.points.map((p) => ({ t: Date.parse(p.ts), v: p.value }));
      const levels = s.levels.map((l) => ({ value: l.threshold, color: LEVEL_COLORS[l.level],
                                            label: `${l.name}: ${l.threshold} m` }));
      const last = series.last ? `${num(series.last.value, 2)} m (${when(series.last.ts)})` : "–";
      out.push(el("figure", { class: "card", "data-station": s.id },
        el("figcaption", {}, `${s.name} — ${t("river_level")}: ${t("latest")} ${last}, `
          + `${t("peak")} ${num(series.max, 2)} m; ${t("level")} `
          + s.levels.map((l) => `${l.name} ${l.threshold} m`).join(", ")),
        lineChart({ points, levels, unit: "", title: `${s.name} ${t("river_level")}` })));
    }
    const windows = [1, 3, 6, 12, 24];
    const rows = [];
    for (const s of city.stations.filter((x) => x.kind === "rain")) {
      const cells = [s.name];
      for (const h of windows) {
        const agg = await get(`/api/v1/stations/${s.id}/aggregates?measure=rain_total`
          + `&window_s=${h * 3600}&limit=1`);
        cells.push(agg.last ? `${num(agg.last.value, 1)} mm` : "–");
      }
      rows.push(cells);
      const hourly = await get(`/api/v1/stations/${s.id}/aggregates?measure=rain_total`
        + "&window_s=3600&limit=72");
      out.push(el("figure", { class: "card" }, el("figcaption", {}, `${s.name} — ${t("rain_hourly")}`),
        barChart({ bars: hourly.points.map((p) => ({ label: when(p.ts).slice(11), v: p.value,
                                                     title: `${when(p.ts)}: ${p.value} mm` })),
                   title: `${s.name} ${t("rain_hourly")}` })));
    }
    out.splice(city.stations.filter((x) => x.kind === "river").length, 0,
      el("section", { class: "card wide" }, el("h3", {}, t("rain_totals")),
        table([t("place"), ...windows.map((h) => t("window_h", { h }))], rows)));
    return out;
  });
}

export async function renderAir(host, city, lang) {
  await guarded(host, async () => {
    const kpi = await get("/api/v1/kpi");
    if (!kpi.air.length) return [el("p", { class: "note" }, t("no_data"))];
    return kpi.air.map((s) => {
      const station = city.stations.find((x) => x.id === s.station);
      const name = station ? station.name : s.station;
      const last = s.hourly[s.hourly.length - 1];
      const bars = s.hourly.map((p) => ({ label: when(p.ts).slice(11), v: p.aqi,
        color: bandOf(city, p.aqi).color, title: `${when(p.ts)}: VN_AQI ${p.aqi}` }));
      return el("figure", { class: "card", "data-station": s.station },
        el("figcaption", {}, `${name} — ${t("vn_aqi")} `, last ? bandBadge(city, last.aqi, lang) : "–"),
        barChart({ bars, title: `${name} ${t("vn_aqi_hourly")}` }),
        table([t("band"), t("hours")], city.aqi_bands.map((b) => [
          el("span", { class: "badge", style: `background:${b.color}` },
            lang === "vi" ? b.name_vi : b.name_en), String(s.hours_per_band[b.key] ?? 0)])),
        el("p", {}, `${t("vn_aqi_daily")}: `,
          s.daily.map((d) => el("span", { class: "daily" }, `${when(d.ts).slice(0, 10)} `,
            bandBadge(city, d.aqi, lang)))));
    });
  });
}

export async function renderTraffic(host, city) {
  await guarded(host, async () => {
    const since = new Date(Date.now() - 15 * 60 * 1000).toISOString();
    const flows = await get("/ngsi-ld/v1/entities?type=TrafficFlowObserved&options=keyValues"
      + `&limit=1000&since=${encodeURIComponent(since)}`);
    const cards = city.cameras.map((c) => {
      const mine = flows.filter((f) => f.id.includes(`:${c.camera}:`));
      const lanes = new Map();
      for (const f of mine) lanes.set(f.name, f);
      const rows = [...lanes.values()].map((f) => [f.name.split(": ").pop(), String(f.intensity ?? "–"),
        num(f.averageVehicleSpeed, 1), f.congested ? t("yes") : t("no")]);
      const perMinute = new Map();
      for (const f of mine) {
        perMinute.set(f.dateObservedTo, (perMinute.get(f.dateObservedTo) || 0) + (f.intensity || 0));
      }
      const bars = [...perMinute.entries()].sort().map(([ts, v]) => ({ label: when(ts).slice(11), v }));
      return el("figure", { class: "card", "data-camera": c.camera },
        el("figcaption", {}, `${c.name} (${c.camera})`),
        rows.length ? table([t("lane"), t("vehicles_min"), t("speed"), t("congested")], rows)
          : el("p", { class: "note" }, t("no_data")),
        bars.length ? barChart({ bars, title: `${c.name} ${t("vehicles_min")}` }) : null);
    });
    return [el("h3", {}, t("traffic_flow")), ...cards];
  });
}

async function openEvidence(host, v, onDone) {
  const images = el("div", { class: "evidence-images" });
  const dialog = el("section", { class: "evidence", role: "dialog", "aria-modal": "false",
                                 "aria-label": t("images_of"), "data-violation": v.id },
    el("h3", {}, `${t("images_of")}: ${t(`viol_${v.violation}`)} — ${when(v.ts, true)}`),
    el("p", {}, `${v.location} · ${t(`veh_${v.vehicle_class}`)} · ${t("plate")}: `,
      v.plate ?? (v.plate_hidden ? t("plate_hidden") : "–")),
    images,
    el("div", { class: "actions" },
      v.review === "pending" ? [
        el("button", { type: "button", class: "confirm", onclick: async () => {
          await post(`/api/v1/violations/${v.id}/review`, { decision: "confirmed" });
          onDone();
        } }, t("confirm")),
        el("button", { type: "button", class: "reject", onclick: async () => {
          await post(`/api/v1/violations/${v.id}/review`, { decision: "rejected" });
          onDone();
        } }, t("reject"))] : el("span", {}, t(v.review)),
      el("button", { type: "button", class: "close", onclick: () => dialog.remove() }, t("close"))));
  host.querySelector(".evidence")?.remove();
  host.prepend(dialog);
  for (const e of v.evidence) {
    const fig = el("figure", { class: "shot" }, el("figcaption", {}, t(`role_${e.role}`)));
    images.append(fig);
    if (!e.stored) { fig.append(el("p", { class: "note" }, "–")); continue; }
    try {
      const url = await imageUrl(`/api/v1/violations/${v.id}/images/${e.image_id}`);
      fig.prepend(el("img", { src: url, alt: `${t(`role_${e.role}`)} ${when(e.taken_at, true)}`,
                               "data-image": e.image_id }));
    } catch (err) { fig.append(refused(err)); }
  }
  dialog.dataset.loaded = "true";  // every image asked for has answered
}

export async function renderViolations(host) {
  await guarded(host, async () => {
    const page = await get("/api/v1/violations?limit=50");
    if (!page.items.length) return [el("p", { class: "note" }, t("no_data"))];
    const list = el("div", { class: "violations" });
    const rerender = () => renderViolations(host);
    const rows = page.items.map((v) => [when(v.ts, true), t(`viol_${v.violation}`), v.location,
      t(`veh_${v.vehicle_class}`), t(v.review), String(v.evidence.length),
      el("button", { type: "button", class: "open-evidence", "data-violation": v.id,
                     onclick: () => openEvidence(list, v, rerender) }, t("open_evidence"))]);
    list.append(table([t("time"), t("type"), t("place"), t("vehicle"), t("review"),
      t("evidence"), ""], rows));
    return [list];
  });
}

export async function renderDevices(host) {
  await guarded(host, async () => {
    const [devices, kpi] = await Promise.all([get("/api/v1/devices"), get("/api/v1/kpi")]);
    const uptime = new Map(kpi.uptime.map((u) => [`${u.site}/${u.device}`, u]));
    const rows = devices.items.map((d) => {
      const u = uptime.get(`${d.site}/${d.device}`);
      return [d.device,
        el("span", { class: "badge", "data-health": d.health,
                     style: `background:${STATE_COLORS[d.health] || STATE_COLORS.unknown}` },
          t(`state_${d.health}`)),
        when(d.received, true), d.fps === null ? "–" : num(d.fps, 1),
        String(d.queue_depth ?? "–"), d.config_version ?? "–", u ? pct(u.uptime) : "–"];
    });
    return [table([t("device"), t("health"), t("last_seen"), t("fps"), t("queue"), t("config"),
      t("uptime")], rows)];
  });
}

export async function renderKpi(host) {
  await guarded(host, async () => {
    const k = await get("/api/v1/kpi");
    const d = (x) => [String(x.count), duration(x.mean_s), duration(x.median_s), duration(x.max_s)];
    const sevs = Object.entries(k.alerts.by_severity);
    return [
      el("section", { class: "card" }, el("h3", {}, t("kpi_violations")),
        el("p", {}, `${t("total")}: ${k.violations.total} · ${t("auto_share")}: `
          + pct(k.violations.automatic_share)),
        table([t("day"), t("type"), t("count"), t("automatic")], k.violations.days.map((x) =>
          [x.day, t(`viol_${x.violation}`), String(x.count), pct(x.automatic_share)]))),
      el("section", { class: "card" }, el("h3", {}, t("plate_rate")),
        table([t("camera"), t("passes"), t("reads"), t("plate_rate"), t("valid")],
          k.plate_reads.map((p) => [p.device, String(p.passes), String(p.reads), pct(p.rate),
            pct(p.valid_share)])),
        table(["", t("count"), t("mean"), t("median"), t("max")],
          [[t("read_to_alert"), ...d(k.read_to_watchlist_alert)]])),
      el("section", { class: "card" }, el("h3", {}, t("alerts_by_severity")),
        barChart({ bars: sevs.map(([s, n]) => ({ label: t(`sev_${s}`), v: n,
          color: STATE_COLORS[s] })), height: 140, title: t("alerts_by_severity") }),
        table(["", t("count"), t("mean"), t("median"), t("max")],
          [[t("time_to_ack"), ...d(k.alerts.acknowledge)],
           [t("time_to_clear"), ...d(k.alerts.clear)]]),
        el("p", { class: "note" }, t("kpi_clock_note"))),
      el("section", { class: "card" }, el("h3", {}, t("uptime")),
        table([t("device"), t("type"), t("uptime")], k.uptime.map((u) =>
          [u.device, u.kind === "camera" ? t("kind_camera") : t("sensor"), pct(u.uptime)]))),
      el("section", { class: "card" }, el("h3", {}, t("hours_per_band")),
        table([t("place"), t("hours"), t("mean"), t("max")], k.air.map((a) =>
          [a.station, String(a.hours), num(a.mean, 0), String(a.max ?? "–")]))),
    ];
  });
}
