// The console: a small single-page app over the service's public API. Everything it shows is
// built with DOM calls (never HTML strings), so stored names and texts are shown as text.
"use strict";

const KEY = "vector-store.key";
const state = { open: null, timer: null };

// ---- The API -------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, envelope) {
    const e = (envelope && envelope.error) || {};
    super(e.message || `The request failed with status ${status}.`);
    this.status = status;
    this.param = e.param || null;
    this.code = e.code || null;
    // How long the service asked to wait before a refused (429) request is sent again.
    this.retryAfterMs = null;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// How long, in all, one call waits out 429s before it gives up.
const PATIENCE_MS = 30000;

// Calls `fn` again while the service answers 429 (over the tenant's rate limit; such a request
// was refused before anything was done), waiting as told, for up to PATIENCE_MS in all.
async function patiently(fn) {
  for (let waited = 0; ; ) {
    try { return await fn(); } catch (e) {
      if (e.status !== 429 || waited >= PATIENCE_MS) throw e;
      const wait = Math.min(e.retryAfterMs || 1000, 10000);
      await sleep(wait);
      waited += wait;
    }
  }
}

function key() {
  return sessionStorage.getItem(KEY) || "";
}

function api(method, path, body) {
  return patiently(() => request(method, path, body));
}

// One request; a failure is thrown as the envelope's ApiError.
async function request(method, path, body) {
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
    const err = new ApiError(res.status, data);
    err.retryAfterMs = Number(res.headers.get("retry-after-ms")) || null;
    throw err;
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
  // In `open` mode a request without a key is the default tenant's: only `keys` mode answers 401.
  const res = await fetch("/v1/vector_stores?limit=1");
  state.open = res.status !== 401;
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

// ---- One store -----------------------------------------------------------------------------

async function filenames() {
  const files = await api("GET", "/v1/files?limit=10000");
  return new Map(files.data.map((f) => [f.id, f.filename]));
}

// The platform collection of a vector store (same id): its name lists its chunks.
async function collectionOf(id) {
  const list = await api("GET", "/v1/api/collection");
  return (list.data || []).find((c) => c.id === id) || null;
}

function json(v) {
  return v && Object.keys(v).length ? JSON.stringify(v) : "—";
}

function chunking(c) {
  if (!c) return "—";
  if (c.type === "static") return `${c.static.max_chunk_size_tokens} tokens, ${c.static.chunk_overlap_tokens} overlap`;
  return c.type;
}

async function storePage(params, [id]) {
  const sid = encodeURIComponent(id);
  const after = params.get("after");
  const offset = Number(params.get("offset") || 0);
  const q = new URLSearchParams({ limit: "100" });
  if (after) q.set("after", after);
  const [store, files, names, coll] = await Promise.all([
    api("GET", `/v1/vector_stores/${sid}`),
    api("GET", `/v1/vector_stores/${sid}/files?${q}`),
    filenames(),
    collectionOf(id),
  ]);
  const act = (label, cls, confirmText, fn) => h("button", {
    type: "button", class: cls,
    onclick: async () => {
      if (confirmText && !confirm(confirmText)) return;
      if (await attempt(fn)) route();
    },
  }, label);
  const rows = files.data.map((f) => {
    const fname = names.get(f.id) || f.id;
    return h("tr", {},
      cell("File", fname),
      cell("Status", h("span", { class: `pill ${f.status}` }, f.status)),
      cell("Chunking", chunking(f.chunking_strategy)),
      cell("Attributes", h("code", {}, json(f.attributes))),
      cell("Last error", f.last_error ? `${f.last_error.code}: ${f.last_error.message}` : "—"),
      cell("Size", bytes(f.usage_bytes)),
      cell("", h("div", { class: "row" },
        f.status === "failed" ? act(`Retry`, "secondary", null, () => api("POST", `/v1/vector_stores/${sid}/files`,
          f.attributes ? { file_id: f.id, attributes: f.attributes } : { file_id: f.id })) : null,
        act("Detach", "secondary", `Detach ${fname} from this vector store? The file stays.`,
          () => api("DELETE", `/v1/vector_stores/${sid}/files/${encodeURIComponent(f.id)}`)),
        act("Delete", "danger", `Delete the file ${fname}? It is detached from this vector store and deleted; other vector stores it is attached to keep their chunks.`,
          async () => {
            await api("DELETE", `/v1/vector_stores/${sid}/files/${encodeURIComponent(f.id)}`);
            return api("DELETE", `/v1/files/${encodeURIComponent(f.id)}`);
          }))));
  });
  const parts = [
    h("h1", {}, store.name || store.id),
    h("p", { class: "muted" }, `${store.id} · `, h("span", { class: `pill ${store.status}` }, store.status),
      coll ? ` · ${coll.storage_backend} · ${coll.model_name || "no model"}` : "",
      ` · ${bytes(store.usage_bytes)}`),
    h("div", { class: "row" },
      h("a", { href: `#/upload?store=${sid}` }, "Upload files"),
      h("a", { href: `#/search?store=${sid}` }, "Search"),
      h("button", { type: "button", class: "secondary", onclick: () => route() }, "Refresh")),
    h("h2", {}, "Files"),
    files.data.length
      ? table(["File", "Status", "Chunking", "Attributes", "Last error", "Size", ""], rows)
      : h("p", { class: "muted" }, "No files."),
    h("div", { class: "row" },
      after ? h("a", { href: `#/stores/${sid}` }, "First files") : null,
      files.has_more ? h("a", { href: `#/stores/${sid}?after=${encodeURIComponent(files.last_id)}` }, "More files") : null),
  ];
  if (coll) {
    const limit = 20;
    const data = await api("GET", `/v1/api/collection/data?${new URLSearchParams({ collection: coll.collection, limit, offset })}`);
    parts.push(h("h2", {}, `Chunks (${data.total})`));
    parts.push(data.data.length
      ? table(["Chunk", "Text", "Attributes"], data.data.map((d) => h("tr", {},
        cell("Chunk", h("code", {}, d.id)),
        cell("Text", d.content.length > 400 ? d.content.slice(0, 400) + "…" : d.content),
        cell("Attributes", h("code", {}, json(d.metadata))))))
      : h("p", { class: "muted" }, "No chunks."));
    const base = `#/stores/${sid}?${after ? `after=${encodeURIComponent(after)}&` : ""}offset=`;
    parts.push(h("div", { class: "row" },
      offset > 0 ? h("a", { href: base + Math.max(0, offset - limit) }, "Previous chunks") : null,
      offset + limit < data.total ? h("a", { href: base + (offset + limit) }, "Next chunks") : null));
  }
  render(...parts);
  // Live while files ingest: the page reloads itself until none is in progress.
  if (files.data.some((f) => f.status === "in_progress")) {
    const at = location.hash;
    state.timer = setTimeout(() => { if (location.hash === at) route(); }, 1500);
  }
}

// ---- Upload --------------------------------------------------------------------------------

async function storeSelect(selected, id) {
  const list = await api("GET", "/v1/vector_stores?limit=100");
  const select = h("select", { id, required: true },
    list.data.map((s) => h("option", { value: s.id, selected: s.id === selected }, s.name || s.id)));
  if (!list.data.length) select.append(h("option", { value: "" }, "no vector store yet"));
  return select;
}

// Uploads one file with progress (fetch cannot report an upload's progress).
function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append("purpose", "assistants");
    form.append("file", file, file.webkitRelativePath || file.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/files");
    if (key()) xhr.setRequestHeader("Authorization", `Bearer ${key()}`);
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch (_) { data = null; }
      if (xhr.status >= 200 && xhr.status < 300) { resolve(data); return; }
      const err = new ApiError(xhr.status, data);
      err.retryAfterMs = Number(xhr.getResponseHeader("retry-after-ms")) || null;
      reject(err);
    };
    xhr.onerror = () => reject(new ApiError(0, { error: { message: "The upload was cut off." } }));
    xhr.send(form);
  });
}

const UPLOADS_AT_ONCE = 4;



async function uploadPage(params) {
  const store = await storeSelect(params.get("store"), "upload-store");
  const picker = h("input", { id: "upload-files", type: "file", multiple: true });
  const folder = h("input", { id: "upload-folder", type: "file", webkitdirectory: true, multiple: true });
  const attrs = h("textarea", { id: "upload-attributes", rows: 2, placeholder: '{"lang": "en"}' });
  const strategy = h("select", { id: "upload-chunking" },
    h("option", { value: "auto" }, "auto"), h("option", { value: "static" }, "static"));
  const maxTokens = h("input", { id: "upload-max-tokens", type: "number", min: 100, max: 4096, value: 800 });
  const overlap = h("input", { id: "upload-overlap", type: "number", min: 0, max: 2048, value: 400 });
  const chosen = [];
  const list = h("ul", { class: "files", "aria-label": "Files to upload" });
  const add = (files) => {
    for (const f of files) {
      chosen.push(f);
      list.append(h("li", {}, f.webkitRelativePath || f.name, h("span", { class: "muted" }, ` ${bytes(f.size)}`)));
    }
  };
  picker.addEventListener("change", () => add(picker.files));
  folder.addEventListener("change", () => add(folder.files));
  const drop = h("div", {
    class: "drop", role: "button", tabindex: 0, id: "drop-zone",
    "aria-label": "Drop files here, or press Enter to choose files",
    onclick: () => picker.click(),
    onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); picker.click(); } },
    ondragover: (e) => { e.preventDefault(); drop.classList.add("over"); },
    ondragleave: () => drop.classList.remove("over"),
    ondrop: (e) => { e.preventDefault(); drop.classList.remove("over"); add(e.dataTransfer.files); },
  }, "Drop files here, or choose them");
  const overall = h("progress", { id: "overall", max: 1, value: 0, "aria-label": "All files" });
  const progress = h("div", { "aria-live": "polite" });
  const start = h("button", { type: "submit" }, "Upload and ingest");
  const form = h("form", {
    class: "card",
    onsubmit: async (ev) => {
      ev.preventDefault();
      showError(null);
      if (!store.value) { showError(new Error("Create a vector store first.")); return; }
      if (!chosen.length) { showError(new Error("Choose at least one file.")); return; }
      let attributes;
      if (attrs.value.trim()) {
        try { attributes = JSON.parse(attrs.value); } catch (e) { showError(new Error(`The attributes are not JSON: ${e.message}`)); return; }
      }
      const body = (fileId) => {
        const b = { file_id: fileId };
        if (attributes) b.attributes = attributes;
        if (strategy.value === "static") {
          b.chunking_strategy = { type: "static", static: { max_chunk_size_tokens: Number(maxTokens.value), chunk_overlap_tokens: Number(overlap.value) } };
        }
        return b;
      };
      start.disabled = true;
      const sid = encodeURIComponent(store.value);
      const files = chosen.splice(0);
      list.replaceChildren();
      const done = new Array(files.length).fill(0);
      const tick = () => { overall.value = done.reduce((a, b) => a + b, 0) / files.length; };
      const one = async (f, i) => {
        const name = f.webkitRelativePath || f.name;
        const bar = h("progress", { max: 1, value: 0, "aria-label": name });
        const status = h("span", { class: "pill in_progress" }, "uploading");
        const line = h("div", { class: "upload-row", "data-file": name }, h("span", { class: "name" }, name), bar, status);
        progress.append(line);
        const set = (text, cls) => { status.textContent = text; status.className = `pill ${cls}`; };
        try {
          const uploaded = await patiently(() => upload(f, (p) => { bar.value = p / 2; done[i] = p / 2; tick(); }));
          bar.value = 0.5;
          set("ingesting", "in_progress");
          await api("POST", `/v1/vector_stores/${sid}/files`, body(uploaded.id));
          for (;;) {
            const vf = await api("GET", `/v1/vector_stores/${sid}/files/${encodeURIComponent(uploaded.id)}`);
            if (vf.status !== "in_progress") {
              set(vf.status, vf.status);
              if (vf.last_error) line.append(h("span", { class: "muted" }, ` ${vf.last_error.message}`));
              break;
            }
            await sleep(700);
          }
        } catch (e) {
          set("failed", "failed");
          line.append(h("span", { class: "muted" }, ` ${e.message}`));
        }
        bar.value = 1; done[i] = 1; tick();
      };
      // A few files at a time: the tenant's rate limit holds for the console too.
      let next = 0;
      const worker = async () => { while (next < files.length) { const i = next++; await one(files[i], i); } };
      await Promise.all(Array.from({ length: Math.min(UPLOADS_AT_ONCE, files.length) }, worker));
      start.disabled = false;
      progress.append(h("p", {}, h("a", { href: `#/stores/${sid}` }, "See the vector store")));
    },
  },
    h("div", { class: "grid" },
      h("label", { for: "upload-store" }, "Vector store", store),
      h("label", { for: "upload-chunking" }, "Chunking", strategy),
      h("label", { for: "upload-max-tokens" }, "Max chunk tokens (static)", maxTokens),
      h("label", { for: "upload-overlap" }, "Overlap tokens (static)", overlap)),
    h("label", { for: "upload-attributes" }, "Attributes of every file (JSON, optional)", attrs),
    drop,
    h("p", { class: "muted", id: "upload-formats" },
      "Read: text, Markdown, CSV, JSON, source code, HTML, PDF, Word (.docx), PowerPoint (.pptx) ",
      "and Excel (.xlsx). Other files upload, but fail to ingest as unsupported."),
    h("div", { class: "row" },
      h("label", { for: "upload-files" }, "Files", picker),
      h("label", { for: "upload-folder" }, "A folder", folder)),
    list,
    start);
  render(h("h1", {}, "Upload"), form, h("label", { for: "overall" }, "All files", overall), progress);
}

// ---- Search --------------------------------------------------------------------------------

const OPS = ["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"];

function scalar(text) {
  const t = text.trim();
  if (t === "true" || t === "false") return t === "true";
  if (t !== "" && !Number.isNaN(Number(t))) return Number(t);
  return t;
}

// The words of the query, for highlighting (letters and digits of any script).
function words(query) {
  return [...new Set((query.toLowerCase().match(/[\p{L}\p{N}]+/gu) || []).filter((w) => w.length > 1))];
}

function highlight(text, terms) {
  if (!terms.length) return [text];
  const escaped = terms.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const re = new RegExp(`(${escaped.join("|")})`, "giu");
  return text.split(re).map((part, i) => (i % 2 ? h("mark", {}, part) : part));
}

// A Python literal of a JSON value.
function py(v) {
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "number" || typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(py).join(", ")}]`;
  return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${py(x)}`).join(", ")}}`;
}

function shellQuote(s) {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

async function searchPage(params) {
  const store = await storeSelect(params.get("store"), "search-store");
  const query = h("input", { id: "search-query", required: true, placeholder: "What are you looking for?" });
  const mode = h("select", { id: "search-mode" }, ["vector", "keyword", "hybrid"].map((m) => h("option", { value: m }, m)));
  const max = h("input", { id: "search-max", type: "number", min: 1, max: 50, value: 10 });
  const threshold = h("input", { id: "search-threshold", type: "number", min: 0, max: 1, step: 0.01, placeholder: "none" });
  const combine = h("select", { id: "filter-combine", "aria-label": "Combine conditions with" },
    h("option", { value: "and" }, "all of (and)"), h("option", { value: "or" }, "any of (or)"));
  const conditions = h("div", { class: "conditions" });
  const asJson = h("textarea", { id: "filter-json", rows: 3, placeholder: '{"type": "eq", "key": "lang", "value": "en"}' });
  let n = 0;
  const addCondition = () => {
    n += 1;
    const k = h("input", { id: `filter-key-${n}`, placeholder: "key" });
    const op = h("select", { id: `filter-op-${n}` }, OPS.map((o) => h("option", { value: o }, o)));
    const v = h("input", { id: `filter-value-${n}`, placeholder: "value (a, b for in)" });
    const row = h("div", { class: "row condition" },
      h("label", { for: k.id }, `Key ${n}`, k), h("label", { for: op.id }, `Operator ${n}`, op),
      h("label", { for: v.id }, `Value ${n}`, v),
      h("button", { type: "button", class: "secondary", onclick: () => row.remove(), "aria-label": `Remove condition ${n}` }, "Remove"));
    conditions.append(row);
  };
  const filters = () => {
    if (asJson.value.trim()) return JSON.parse(asJson.value);
    const list = [...conditions.querySelectorAll(".condition")].map((row) => {
      const [k, op, v] = row.querySelectorAll("input, select");
      if (!k.value.trim()) return null;
      const value = op.value === "in" || op.value === "nin" ? v.value.split(",").map(scalar) : scalar(v.value);
      return { type: op.value, key: k.value.trim(), value };
    }).filter(Boolean);
    if (!list.length) return undefined;
    return list.length === 1 ? list[0] : { type: combine.value, filters: list };
  };
  const results = h("div", { id: "results", "aria-live": "polite" });
  const snippets = h("div", {});
  const form = h("form", {
    class: "card",
    onsubmit: async (ev) => {
      ev.preventDefault();
      showError(null);
      const body = { query: query.value, max_num_results: Number(max.value || 10) };
      if (mode.value !== "vector") body.search_mode = mode.value;
      if (threshold.value) body.ranking_options = { score_threshold: Number(threshold.value) };
      try {
        const f = filters();
        if (f) body.filters = f;
      } catch (e) { showError(new Error(`The filter is not JSON: ${e.message}`)); return; }
      const sid = encodeURIComponent(store.value);
      const page = await attempt(() => api("POST", `/v1/vector_stores/${sid}/search`, body));
      const pretty = JSON.stringify(body);
      const extra = { ...body };
      delete extra.query;
      const python = `from openai import OpenAI\nclient = OpenAI(base_url="${location.origin}/v1", api_key=os.environ["VECTOR_STORE_API_KEY"])\n` +
        `page = client.vector_stores.search(\n    ${py(store.value)},\n    query=${py(body.query)},\n` +
        Object.entries(extra).filter(([k]) => k !== "search_mode").map(([k, v]) => `    ${k}=${py(v)},\n`).join("") +
        (body.search_mode ? `    extra_body={"search_mode": ${py(body.search_mode)}},\n` : "") + ")";
      snippets.replaceChildren(
        h("h2", {}, "The same call"),
        h("pre", { id: "snippet-curl", "aria-label": "curl" }, `curl ${location.origin}/v1/vector_stores/${sid}/search \\\n  -H "Authorization: Bearer $VECTOR_STORE_API_KEY" \\\n  -H "Content-Type: application/json" \\\n  -d ${shellQuote(pretty)}`),
        h("pre", { id: "snippet-python", "aria-label": "Python" }, `import os\n${python}`));
      if (!page) { results.replaceChildren(); return; }
      const terms = words(body.query);
      const top = Math.max(...page.data.map((d) => d.score), 1e-9);
      results.replaceChildren(
        h("h2", {}, `${page.data.length} results`),
        ...page.data.map((hit, i) => h("article", { class: "card hit", "data-rank": i + 1 },
          h("div", { class: "row" },
            h("strong", { class: "filename" }, hit.filename),
            h("span", { class: "muted" }, `score ${hit.score.toFixed(3)}`),
            h("span", { class: "bar", role: "img", "aria-label": `score ${hit.score.toFixed(3)}` },
              h("span", { style: null, class: "fill", "data-width": Math.round((hit.score / top) * 100) }))),
          h("div", {}, h("code", {}, json(hit.attributes))),
          h("p", { class: "text" }, highlight(hit.content.map((c) => c.text).join("\n"), terms)))));
      // Widths set through the DOM: the content security policy allows no inline style attribute.
      for (const f of results.querySelectorAll(".fill")) f.style.width = `${f.dataset.width}%`;
    },
  },
    h("div", { class: "grid" },
      h("label", { for: "search-store" }, "Vector store", store),
      h("label", { for: "search-query" }, "Query", query),
      h("label", { for: "search-mode" }, "Mode", mode),
      h("label", { for: "search-max" }, "Max results", max),
      h("label", { for: "search-threshold" }, "Score threshold", threshold)),
    h("fieldset", {},
      h("legend", {}, "Filters"),
      h("div", { class: "row" }, h("label", { for: "filter-combine" }, "Combine", combine),
        h("button", { type: "button", class: "secondary", onclick: addCondition }, "Add condition")),
      conditions,
      h("label", { for: "filter-json" }, "Or the filter as JSON (used when given)", asJson)),
    h("button", { type: "submit" }, "Search"));
  addCondition();
  render(h("h1", {}, "Search"), form, results, snippets);
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

const PAGES = { stores: storesPage, keys: keysPage, upload: uploadPage, search: searchPage };

async function route(hash) {
  if (hash !== undefined && hash !== location.hash) { location.hash = hash; return; }
  clearTimeout(state.timer);
  const raw = (location.hash || "#/stores").slice(2);
  const [path, query] = raw.split("?");
  const parts = path.split("/").map((p) => { try { return decodeURIComponent(p); } catch (_) { return p; } });
  const name = parts[0] || "stores";
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.page === name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  if (state.open === null) await attempt(detectMode);
  if (!state.open && !key()) { keyPage(location.hash); return; }
  document.getElementById("forget-key").hidden = state.open !== false;
  const page = name === "stores" && parts[1] ? storePage : PAGES[name];
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
