// The console: a small single-page app over the service's public API. Everything it shows is
// built with DOM calls (never HTML strings), so stored names and texts are shown as text.
"use strict";

const KEY = "vector-store.key";
const state = { open: null };

// ---- The API -------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, envelope) {
    const e = (envelope && envelope.error) || {};
    super(e.message || `The request failed with status ${status}.`);
    this.status = status;
    this.param = e.param || null;
    this.code = e.code || null;
  }
}

function key() {
  return sessionStorage.getItem(KEY) || "";
}

async function api(method, path, body) {
  const headers = {};
  if (key()) headers["Authorization"] = `Bearer ${key()}`;
  const init = { method, headers };
  if (body instanceof FormData) {
    init.body = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, { error: { message: `The service did not answer: ${e.message}` } });
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (!res.ok) {
    if (res.status === 401 && !state.open) { sessionStorage.removeItem(KEY); }
    throw new ApiError(res.status, data);
  }
  return data;
}

// ---- DOM helpers ---------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function showError(err) {
  const box = document.getElementById("error");
  if (!err) { box.hidden = true; box.textContent = ""; return; }
  box.textContent = err.param ? `${err.message} (${err.param})` : err.message;
  box.hidden = false;
}

function date(secs) {
  return secs ? new Date(secs * 1000).toISOString().replace("T", " ").slice(0, 16) + " UTC" : "—";
}

function bytes(n) {
  if (!n) return "0 B";
  const units = ["B", "KB", "MB", "GB", "TB"];
  const i = Math.min(units.length - 1, Math.floor(Math.log(n) / Math.log(1024)));
  return `${(n / 1024 ** i).toFixed(i ? 1 : 0)} ${units[i]}`;
}

function cell(label, ...content) {
  return h("td", { "data-label": label }, ...content);
}

function table(headers, rows) {
  return h("div", { class: "table-wrap" },
    h("table", { class: "cards" },
      h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows)));
}

function render(...nodes) {
  const main = document.getElementById("main");
  main.replaceChildren(...nodes);
}

// Runs an action, shows its error (the envelope's message) instead of failing silently.
async function attempt(fn) {
  showError(null);
  try { return await fn(); } catch (e) { showError(e); return undefined; }
}

// ---- The key -------------------------------------------------------------------------------

async function detectMode() {
  // In `open` mode a request without a key is the default tenant's and succeeds.
  const res = await fetch("/v1/vector_stores?limit=1");
  state.open = res.ok;
  document.querySelector('[data-page="keys"]').hidden = state.open;
}

function keyPage(next) {
  const input = h("input", { id: "api-key", type: "password", autocomplete: "off", required: true, placeholder: "vsk_…" });
  render(
    h("h1", {}, "Sign in"),
    h("form", {
      class: "card grid",
      onsubmit: async (ev) => {
        ev.preventDefault();
        sessionStorage.setItem(KEY, input.value.trim());
        const ok = await attempt(() => api("GET", "/v1/vector_stores?limit=1"));
        if (ok) { document.getElementById("forget-key").hidden = false; route(next); }
      },
    },
      h("label", { for: "api-key" }, "API key", input),
      h("button", { type: "submit" }, "Use this key")),
    h("p", { class: "muted" }, "The key is kept in this tab's session storage only."));
  input.focus();
}

// ---- Vector stores -------------------------------------------------------------------------

async function storesPage(params) {
  const after = params.get("after");
  const q = new URLSearchParams({ limit: "100", order: "desc" });
  if (after) q.set("after", after);
  const [page, collections] = await Promise.all([
    api("GET", `/v1/vector_stores?${q}`),
    api("GET", "/v1/api/collection").catch(() => ({ data: [] })),
  ]);
  const extra = new Map((collections.data || []).map((c) => [c.id, c]));
  const rows = page.data.map((s) => {
    const c = extra.get(s.id) || {};
    const fc = s.file_counts;
    return h("tr", {},
      cell("Name", h("a", { href: `#/stores/${encodeURIComponent(s.id)}` }, s.name || s.id)),
      cell("Back-end", c.storage_backend || "—"),
      cell("Model", c.model_name || "—"),
      cell("Files", `${fc.completed} done, ${fc.in_progress} in progress, ${fc.failed} failed, ${fc.cancelled} cancelled`),
      cell("Size", bytes(s.usage_bytes)),
      cell("Status", h("span", { class: `pill ${s.status}` }, s.status)),
      cell("Expires", s.expires_at ? date(s.expires_at) : "never"),
      cell("Created", date(s.created_at)),
      cell("Last active", date(s.last_active_at)),
      cell("", h("button", {
        type: "button", class: "danger", "aria-label": `Delete ${s.name || s.id}`,
        onclick: async () => {
          if (!confirm(`Delete the vector store "${s.name || s.id}" and its chunks? Its files stay.`)) return;
          if (await attempt(() => api("DELETE", `/v1/vector_stores/${encodeURIComponent(s.id)}`))) route();
        },
      }, "Delete")));
  });
  const name = h("input", { id: "new-name", maxlength: 256 });
  const backend = h("select", { id: "new-backend" }, h("option", { value: "" }, "default"),
    h("option", { value: "pgvector" }, "pgvector"), h("option", { value: "elasticsearch" }, "elasticsearch"));
  const model = h("input", { id: "new-model", placeholder: "default" });
  const days = h("input", { id: "new-expiry", type: "number", min: 1, max: 365, placeholder: "never" });
  const create = h("form", {
    class: "card grid",
    "aria-label": "Create a vector store",
    onsubmit: async (ev) => {
      ev.preventDefault();
      const body = {};
      if (name.value.trim()) body.name = name.value.trim();
      if (backend.value) body.storage_backend = backend.value;
      if (model.value.trim()) body.embedding_model = model.value.trim();
      if (days.value) body.expires_after = { anchor: "last_active_at", days: Number(days.value) };
      if (await attempt(() => api("POST", "/v1/vector_stores", body))) route();
    },
  },
    h("label", { for: "new-name" }, "Name", name),
    h("label", { for: "new-backend" }, "Back-end", backend),
    h("label", { for: "new-model" }, "Embedding model", model),
    h("label", { for: "new-expiry" }, "Expires after (days idle)", days),
    h("button", { type: "submit" }, "Create"));
  const paging = h("div", { class: "row" },
    after ? h("a", { href: "#/stores" }, "First page") : null,
    page.has_more ? h("a", { href: `#/stores?after=${encodeURIComponent(page.last_id)}` }, "Next page") : null);
  render(
    h("h1", {}, "Vector stores"),
    create,
    page.data.length
      ? table(["Name", "Back-end", "Model", "Files", "Size", "Status", "Expires", "Created", "Last active", ""], rows)
      : h("p", { class: "muted" }, after ? "No more vector stores." : "No vector stores yet."),
    paging);
}

// ---- Keys ----------------------------------------------------------------------------------

async function keysPage() {
  const list = await api("GET", "/v1/api/keys");
  const shown = h("div", { "aria-live": "polite" });
  const rows = list.data.map((k) => h("tr", {},
    cell("Prefix", h("code", {}, k.prefix)),
    cell("Id", h("code", {}, k.id)),
    cell("Created", date(k.created_at)),
    cell("Status", k.revoked_at ? `revoked ${date(k.revoked_at)}` : "active"),
    cell("", k.revoked_at ? null : h("button", {
      type: "button", class: "danger", "aria-label": `Revoke ${k.prefix}`,
      onclick: async () => {
        const own = key().startsWith(k.prefix);
        if (!confirm(own ? "Revoke the key this console uses? You will be signed out." : `Revoke the key ${k.prefix}…?`)) return;
        if (await attempt(() => api("DELETE", `/v1/api/keys/${encodeURIComponent(k.id)}`))) {
          if (own) { sessionStorage.removeItem(KEY); }
          route();
        }
      },
    }, "Revoke"))));
  render(
    h("h1", {}, "API keys"),
    h("div", { class: "row" }, h("button", {
      type: "button", id: "create-key",
      onclick: async () => {
        const made = await attempt(() => api("POST", "/v1/api/keys"));
        if (!made) return;
        await keysPage();
        document.querySelector('[aria-live="polite"]').replaceChildren(h("div", { class: "card" },
          h("p", {}, "The new key, shown this once:"), h("pre", { id: "new-key" }, made.key)));
      },
    }, "Create a key")),
    shown,
    table(["Prefix", "Id", "Created", "Status", ""], rows));
}

// ---- Routing -------------------------------------------------------------------------------

const PAGES = { stores: storesPage, keys: keysPage };

async function route(hash) {
  if (hash !== undefined && hash !== location.hash) { location.hash = hash; return; }
  const raw = (location.hash || "#/stores").slice(2);
  const [path, query] = raw.split("?");
  const parts = path.split("/").map(decodeURIComponent);
  const name = parts[0] || "stores";
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.page === name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  if (state.open === null) await attempt(detectMode);
  if (!state.open && !key()) { keyPage(location.hash); return; }
  document.getElementById("forget-key").hidden = state.open !== false;
  const page = PAGES[name];
  if (!page) { render(h("h1", {}, "Not found"), h("p", {}, "No such page.")); return; }
  showError(null);
  try {
    await page(new URLSearchParams(query || ""), parts.slice(1));
  } catch (e) {
    if (e.status === 401 && !state.open) { keyPage(location.hash); }
    showError(e);
  }
}

window.addEventListener("hashchange", () => route());
window.addEventListener("DOMContentLoaded", () => {
  document.getElementById("forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    route();
  });
  route();
});
