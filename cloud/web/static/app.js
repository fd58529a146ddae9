// The IOC page: log in with a token, the live alert feed, the map, the tabs.
import { ApiError, alertStream, get, hasToken, post, setToken } from "./api.js";
import { el } from "./charts.js";
import { getLang, setLang, t, when } from "./i18n.js";
import { STATE_COLORS, renderLegend, renderMap } from "./map.js";
import {
  renderAir, renderDevices, renderKpi, renderRivers, renderTraffic, renderViolations,
} from "./panels.js";

const SEVERITY_RANK = { informational: 0, low: 1, medium: 2, high: 3, critical: 4 };
const state = { city: null, me: null, alerts: new Map(), devices: new Map(), tab: "city",
                stop: null, timer: null };
const $ = (id) => document.getElementById(id);

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

function setLive(key) {
  const live = $("live");
  live.className = `live ${key === "live" ? "on" : "off"}`;
  live.dataset.i18n = key;
  live.textContent = t(key);
}

// ------------------------------------------------------------------ alerts

function alertItem(a) {
  const acked = a.state === "acknowledged";
  return el("li", { class: `alert sev-${a.severity} state-${a.state}`, "data-alert": a.alert_id,
                    "data-state": a.state },
    el("div", { class: "alert-head" },
      el("span", { class: "badge", style: `background:${STATE_COLORS[a.severity]}` },
        t(`sev_${a.severity}`)),
      el("time", { datetime: a.last_change_at }, when(a.last_change_at)),
      el("span", { class: "alert-state" }, t(a.state))),
    el("p", { class: "alert-text" }, a.description),
    acked ? el("p", { class: "alert-ack" },
      `${t("acknowledged")} ${t("by")} ${a.acknowledged_by} · ${when(a.acknowledged_at)}`) : null,
    a.state === "open" ? el("button", { type: "button", class: "ack",
      "data-alert": a.alert_id, onclick: () => acknowledge(a.alert_id) }, t("acknowledge")) : null);
}

function renderAlerts() {
  const list = $("alerts");
  const items = [...state.alerts.values()].sort((x, y) =>
    (x.state === "cleared") - (y.state === "cleared") || y.last_seq - x.last_seq);
  list.replaceChildren(...items.map(alertItem));
  $("feed-note").textContent = items.length ? "" : t("no_alerts");
}

async function acknowledge(alertId) {
  try {
    const a = await post(`/api/v1/alerts/${encodeURIComponent(alertId)}/acknowledge`);
    state.alerts.set(a.alert_id, a);
    renderAlerts();
    drawMap();
  } catch (err) { showError(err.message); }
}

async function onAlertChange(change) {
  try {
    const detail = await get(`/api/v1/alerts/${encodeURIComponent(change.alert_id)}`);
    state.alerts.set(detail.alert.alert_id, detail.alert);
    renderAlerts();
    drawMap();
  } catch (err) { if (!(err instanceof ApiError && err.status === 404)) showError(err.message); }
}

// ------------------------------------------------------------------ map

function placeState(place) {
  let worst = null;
  for (const a of state.alerts.values()) {
    if (a.station !== place.id || a.state === "cleared" || a.status === "cleared") continue;
    if (!worst || SEVERITY_RANK[a.severity] > SEVERITY_RANK[worst.severity]) worst = a;
  }
  const station = state.city.stations.find((s) => s.id === place.id);
  const camera = state.city.cameras.find((c) => c.camera === place.id);
  const device = state.devices.get(station ? station.device : camera?.device);
  if (device && (device.health === "offline" || device.health === "stale")) {
    return { key: device.health, text: t(`state_${device.health}`) };
  }
  if (worst) {
    const level = worst.subcategory === "flood" && worst.level ? ` ${t("level")} ${"I".repeat(worst.level)}` : "";
    return { key: worst.severity, text: `${t(`sev_${worst.severity}`)}${level}` };
  }
  return { key: "ok", text: t("state_ok") };
}

function drawMap() {
  if (!state.city) return;
  renderMap($("map"), state.city, placeState);
  renderLegend($("legend"));
}

// ------------------------------------------------------------------ tabs

async function renderTab() {
  const tab = state.tab;
  for (const b of document.querySelectorAll("[data-tab]")) {
    b.setAttribute("aria-selected", String(b.dataset.tab === tab));
  }
  for (const s of document.querySelectorAll(".panel")) s.hidden = s.id !== `tab-${tab}`;
  if (!state.city) return;
  const host = $(`tab-${tab}`);
  if (tab === "city") drawMap();
  else if (tab === "rivers") await renderRivers(host, state.city);
  else if (tab === "air") await renderAir(host, state.city, getLang());
  else if (tab === "traffic") await renderTraffic(host, state.city);
  else if (tab === "violations") await renderViolations(host);
  else if (tab === "devices") await renderDevices(host);
  else if (tab === "kpi") await renderKpi(host);
}

async function refresh() {
  try {
    const devices = await get("/api/v1/devices");
    state.devices = new Map(devices.items.map((d) => [d.device, d]));
  } catch { state.devices = new Map(); }  // not every role sees devices
  if (state.tab === "city") drawMap();
  else if (state.tab !== "violations") await renderTab();
}

// ------------------------------------------------------------------ start

async function connect(token) {
  showError("");
  if (state.stop) state.stop();
  if (state.timer) clearInterval(state.timer);
  setToken(token);
  try {
    state.me = await get("/api/v1/me");
  } catch (err) {
    setLive("offline");
    showError(err instanceof ApiError && err.status === 401 ? t("unknown_token") : err.message);
    return;
  }
  $("who").textContent = `${state.me.name} (${state.me.role})`;
  state.city = await get("/api/v1/city");
  const page = await get("/api/v1/alerts?limit=200");
  state.alerts = new Map(page.items.map((a) => [a.alert_id, a]));
  renderAlerts();
  state.stop = alertStream(onAlertChange, setLive);
  await refresh();
  await renderTab();
  state.timer = setInterval(refresh, 10000);
}

function start() {
  setLang("vi");
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.addEventListener("click", async () => {
      setLang(b.dataset.lang);
      renderAlerts();
      if (hasToken() && state.city) await renderTab();
    });
  }
  for (const b of document.querySelectorAll("[data-tab]")) {
    b.addEventListener("click", async () => { state.tab = b.dataset.tab; await renderTab(); });
  }
  $("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    connect($("token").value.trim());
  });
  renderTab();
}

start();
