// The API with the user's bearer token. Every request goes to this page's own origin.
let token = "";

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export function setToken(value) { token = value; }
export function hasToken() { return token !== ""; }

function headers(extra = {}) {
  return { Authorization: `Bearer ${token}`, ...extra };
}

async function failure(response) {
  let message = `${response.status}`;
  try { message = (await response.json()).message || message; } catch { /* not JSON */ }
  return new ApiError(response.status, message);
}

export async function get(path) {
  const response = await fetch(path, { headers: headers() });
  if (!response.ok) throw await failure(response);
  return response.json();
}

export async function post(path, body = null) {
  const init = { method: "POST", headers: headers() };
  if (body !== null) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await failure(response);
  return response.json();
}

// An image the API guards with the token, as a blob: URL an <img> can show.
export async function imageUrl(path) {
  const response = await fetch(path, { headers: headers() });
  if (!response.ok) throw await failure(response);
  return URL.createObjectURL(await response.blob());
}

// Live alert changes. A browser EventSource cannot send the Authorization header, so the
// server-sent events are read with fetch() and a stream reader; `onEvent(data)` gets each
// `alert` event, `onState("live"|"reconnecting")` the connection's state. Reconnects after
// a drop, resuming after the last sequence number seen. Returns a function that stops it.
export function alertStream(onEvent, onState) {
  let stopped = false;
  let last = null;
  let controller = null;
  async function once() {
    controller = new AbortController();
    const extra = last === null ? {} : { "Last-Event-ID": String(last) };
    const response = await fetch("/api/v1/alerts/stream",
      { headers: headers(extra), signal: controller.signal });
    if (!response.ok) throw await failure(response);
    onState("live");
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let event = "message", data = "", id = null;
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
          else if (line.startsWith("id: ")) id = line.slice(4);
        }
        if (id !== null) last = Number(id);
        if (event === "alert" && data) onEvent(JSON.parse(data));
      }
    }
  }
  (async () => {
    while (!stopped) {
      try { await once(); } catch (err) {
        if (stopped) return;
        if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
          onState("offline");
          return;
        }
      }
      if (stopped) return;
      onState("reconnecting");
      await new Promise((r) => setTimeout(r, 2000));
    }
  })();
  return () => { stopped = true; if (controller) controller.abort(); };
}
