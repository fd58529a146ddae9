// Every label of the page, in Vietnamese and English: one dictionary, one lookup.
export const DICT = {
  vi: {
    title: "Trung tâm điều hành đô thị thông minh Huế",
    token: "Mã truy cập", connect: "Kết nối", offline: "Chưa kết nối", live: "Trực tiếp",
    reconnecting: "Đang kết nối lại", tab_city: "Bản đồ", tab_rivers: "Mực nước & mưa",
    tab_air: "Không khí", tab_traffic: "Giao thông", tab_violations: "Vi phạm",
    tab_devices: "Thiết bị", tab_kpi: "Chỉ số KPI", alerts: "Cảnh báo",
    feed_note: "Nhập mã truy cập để xem cảnh báo trực tiếp.", no_alerts: "Không có cảnh báo.",
    acknowledge: "Xác nhận", acknowledged: "Đã xác nhận", open: "Đang mở", cleared: "Đã kết thúc",
    by: "bởi", not_allowed: "Vai trò của bạn không được xem mục này.", loading: "Đang tải…",
    no_data: "Chưa có dữ liệu.", unknown_token: "Mã truy cập không đúng.",
    sev_informational: "Thông tin", sev_low: "Thấp", sev_medium: "Trung bình", sev_high: "Cao",
    sev_critical: "Nghiêm trọng", state_ok: "Bình thường", state_offline: "Mất kết nối",
    state_stale: "Không cập nhật", state_unknown: "Chưa rõ",
    kind_river: "Trạm thủy văn", kind_rain: "Trạm đo mưa", kind_air: "Trạm không khí",
    kind_camera: "Camera", river_level: "Mực nước", level: "Báo động", metres: "m",
    rain_totals: "Tổng lượng mưa", rain_hourly: "Mưa theo giờ (mm)", window_h: "{h} giờ",
    latest: "Mới nhất", peak: "Đỉnh", vn_aqi: "VN_AQI", vn_aqi_hourly: "VN_AQI theo giờ",
    vn_aqi_daily: "VN_AQI theo ngày", hours_per_band: "Số giờ theo mức", band: "Mức",
    hours: "giờ", traffic_flow: "Lưu lượng giao thông (15 phút gần nhất)", lane: "Làn",
    vehicles_min: "Xe/phút", speed: "Tốc độ TB (km/h)", congested: "Ùn tắc", yes: "Có",
    no: "Không", camera: "Camera", time: "Thời gian", type: "Loại", vehicle: "Phương tiện",
    place: "Địa điểm", review: "Xử lý", evidence: "Bằng chứng", open_evidence: "Xem bằng chứng",
    confirm: "Xác nhận vi phạm", reject: "Bác bỏ", close: "Đóng", plate: "Biển số",
    plate_hidden: "ẩn (chỉ công an)", pending: "Chờ xử lý", confirmed: "Đã xác nhận",
    rejected: "Đã bác bỏ", viol_red_light: "Vượt đèn đỏ", viol_wrong_lane: "Sai làn",
    viol_wrong_way: "Đi ngược chiều", viol_illegal_parking: "Đỗ xe trái phép",
    viol_speeding: "Quá tốc độ", veh_car: "Ô tô", veh_motorbike: "Xe máy", veh_bus: "Xe buýt",
    veh_truck: "Xe tải", device: "Thiết bị", health: "Tình trạng", last_seen: "Lần cuối",
    fps: "Khung hình/s", queue: "Hàng đợi", config: "Cấu hình", uptime: "Thời gian hoạt động",
    kpi_violations: "Vi phạm theo ngày", total: "Tổng", automatic: "Tự động",
    auto_share: "Tỷ lệ xử lý tự động", day: "Ngày", plate_rate: "Tỷ lệ đọc biển số",
    passes: "Lượt xe", reads: "Lượt đọc", valid: "Hợp lệ", read_to_alert: "Từ đọc biển đến cảnh báo",
    alerts_by_severity: "Cảnh báo theo mức độ", time_to_ack: "Thời gian xác nhận",
    time_to_clear: "Thời gian kết thúc", count: "Số lượng", mean: "Trung bình", median: "Trung vị",
    max: "Lớn nhất", sensor: "Cảm biến", images_of: "Ảnh bằng chứng", role_before: "Trước",
    role_at: "Lúc vi phạm", role_after: "Sau", role_plate: "Biển số", legend: "Chú giải",
    state: "Trạng thái", map_note: "Bản đồ vẽ từ tọa độ của các trạm; đường sông là gần đúng.",
    kpi_clock_note: "Thời gian xử lý tính theo đồng hồ máy chủ, từ lúc cảnh báo được lưu;"
      + " từ biển số đến cảnh báo: từ thời điểm camera đọc biển.",
  },
  en: {
    title: "Hue smart city operations centre",
    token: "Access token", connect: "Connect", offline: "Not connected", live: "Live",
    reconnecting: "Reconnecting", tab_city: "Map", tab_rivers: "Rivers & rain",
    tab_air: "Air quality", tab_traffic: "Traffic", tab_violations: "Violations",
    tab_devices: "Devices", tab_kpi: "KPIs", alerts: "Alerts",
    feed_note: "Enter an access token to see live alerts.", no_alerts: "No alerts.",
    acknowledge: "Acknowledge", acknowledged: "Acknowledged", open: "Open", cleared: "Cleared",
    by: "by", not_allowed: "Your role may not see this.", loading: "Loading…",
    no_data: "No data yet.", unknown_token: "Unknown access token.",
    sev_informational: "Informational", sev_low: "Low", sev_medium: "Medium", sev_high: "High",
    sev_critical: "Critical", state_ok: "Normal", state_offline: "Offline",
    state_stale: "Stale", state_unknown: "Unknown",
    kind_river: "River gauge", kind_rain: "Rain gauge", kind_air: "Air station",
    kind_camera: "Camera", river_level: "Water level", level: "Alarm level", metres: "m",
    rain_totals: "Rain totals", rain_hourly: "Hourly rain (mm)", window_h: "{h} h",
    latest: "Latest", peak: "Peak", vn_aqi: "VN_AQI", vn_aqi_hourly: "Hourly VN_AQI",
    vn_aqi_daily: "Daily VN_AQI", hours_per_band: "Hours per band", band: "Band",
    hours: "h", traffic_flow: "Traffic flow (last 15 minutes)", lane: "Lane",
    vehicles_min: "Vehicles/min", speed: "Mean speed (km/h)", congested: "Congested", yes: "Yes",
    no: "No", camera: "Camera", time: "Time", type: "Type", vehicle: "Vehicle",
    place: "Place", review: "Review", evidence: "Evidence", open_evidence: "Open evidence",
    confirm: "Confirm violation", reject: "Reject", close: "Close", plate: "Plate",
    plate_hidden: "hidden (police only)", pending: "Pending", confirmed: "Confirmed",
    rejected: "Rejected", viol_red_light: "Red light", viol_wrong_lane: "Wrong lane",
    viol_wrong_way: "Wrong way", viol_illegal_parking: "Illegal parking",
    viol_speeding: "Speeding", veh_car: "Car", veh_motorbike: "Motorbike", veh_bus: "Bus",
    veh_truck: "Truck", device: "Device", health: "Health", last_seen: "Last seen",
    fps: "Frames/s", queue: "Queue", config: "Config", uptime: "Uptime",
    kpi_violations: "Violations per day", total: "Total", automatic: "Automatic",
    auto_share: "Handled automatically", day: "Day", plate_rate: "Plate-read rate",
    passes: "Passes", reads: "Reads", valid: "Valid", read_to_alert: "Plate read to alert",
    alerts_by_severity: "Alerts by severity", time_to_ack: "Time to acknowledge",
    time_to_clear: "Time to clear", count: "Count", mean: "Mean", median: "Median",
    max: "Max", sensor: "Sensor", images_of: "Evidence images", role_before: "Before",
    role_at: "At the violation", role_after: "After", role_plate: "Plate", legend: "Legend",
    state: "State", map_note: "Map drawn from the stations' coordinates; rivers are approximate.",
    kpi_clock_note: "Reaction times on the server's clock, from when the alert was stored;"
      + " read to watchlist alert: from the camera's read.",
  },
};

let lang = "vi";

export function setLang(code) {
  lang = DICT[code] ? code : "vi";
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.setAttribute("aria-pressed", String(b.dataset.lang === lang));
  }
}

export function getLang() { return lang; }

// The label of `key` in the current language (the key itself when missing, so a gap shows).
export function t(key, vars = {}) {
  const text = DICT[lang][key] ?? DICT.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
}

// Local time in Hue (+07:00) as "YYYY-MM-DD HH:MM" (or with seconds).
export function when(iso, seconds = false) {
  if (!iso) return "–";
  const d = new Date(iso);
  const hue = new Date(d.getTime() + 7 * 3600 * 1000);
  const s = hue.toISOString().replace("T", " ");
  return s.slice(0, seconds ? 19 : 16);
}

export function num(value, digits = 1) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  return Number(value).toLocaleString(lang === "vi" ? "vi-VN" : "en-GB",
    { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function pct(value) {
  return value === null || value === undefined ? "–" : `${num(value * 100, 1)} %`;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.abs(seconds);
  const sign = seconds < 0 ? "−" : "";
  if (s < 120) return `${sign}${num(s, 1)} s`;
  if (s < 7200) return `${sign}${num(s / 60, 1)} min`;
  if (s < 172800) return `${sign}${num(s / 3600, 1)} h`;
  return `${sign}${num(s / 86400, 1)} d`;
}
