// The search page: plain JavaScript over the v1 API, no build step, nothing loaded from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
const fmt = (n) => Number(n).toLocaleString("en-US");
const plural = (n, word) => `${fmt(n)} ${word}${Number(n) === 1 ? "" : "s"}`;
const PAGE = 10;
let searchOffset = 0;

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body),
  };
  const response = await fetch(path, init);
  const data = await response.json().catch(() => ({error: `HTTP ${response.status}`}));
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

function partialNote(data) {
  if (data.complete !== false) return "";
  return ` (incomplete: ${data.missing_shards.length} shards did not answer)`;
}

async function loadIndexes() {
  const {indexes} = await api("/v1/indexes");
  const select = $("index");
  select.replaceChildren(...indexes.map((ix) => el("option", {value: ix.name}, ix.name)));
  const info = () => {
    const ix = indexes.find((i) => i.name === select.value);
    $("index-info").textContent = ix ? `${plural(ix.documents, "document")}, ${plural(ix.bytes, "byte")}, ${plural(ix.shards.length, "shard")}` : "";
  };
  select.addEventListener("change", info);
  info();
}

async function runCount(event) {
  event.preventDefault();
  showError("");
  const out = $("count-result");
  out.textContent = "counting…";
  try {
    const data = await api("/v1/count", {index: $("index").value, query: $("count-query").value});
    out.replaceChildren(
      el("span", {class: "number", id: "count-value", "data-count": String(data.count)}, fmt(data.count)),
      ` occurrences · `,
      el("span", {id: "count-latency"}, `${data.latency_ms.toFixed(2)} ms`),
      partialNote(data),
    );
  } catch (e) {
    out.textContent = "";
    showError(e.message);
  }
}

function renderHit(hit) {
  const snippet = el("div", {class: "snippet"},
    (hit.start > 0 ? "…" : "") + hit.before, el("mark", {}, hit.match), hit.after);
  const meta = Object.entries(hit.metadata).map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
  return el("li", {"data-doc-id": String(hit.doc_id)},
    el("div", {class: "meta"}, `document ${hit.doc_id} · byte ${fmt(hit.match_start)}` + (meta.length ? ` · ${meta.join(" · ")}` : "")),
    snippet);
}

async function runSearch(event, offset = 0) {
  if (event) event.preventDefault();
  showError("");
  searchOffset = offset;
  const summary = $("search-summary");
  summary.textContent = "searching…";
  try {
    const data = await api("/v1/search", {
      index: $("index").value, query: $("search-query").value, limit: PAGE, offset,
      context: Number($("context").value),
    });
    const last = Math.min(offset + data.hits.length, data.total);
    summary.replaceChildren(
      el("span", {class: "number", id: "search-total", "data-total": String(data.total)}, fmt(data.total)),
      ` occurrences` + (data.total ? ` · showing ${fmt(offset + 1)}–${fmt(last)}` : "") +
      ` · ${data.latency_ms.toFixed(2)} ms` + partialNote(data),
    );
    $("hits").replaceChildren(...data.hits.map(renderHit));
    $("hits").start = offset + 1;
    $("pager").hidden = data.total <= PAGE;
    $("prev").disabled = offset === 0;
    $("next").disabled = offset + PAGE >= data.total;
  } catch (e) {
    summary.textContent = "";
    $("hits").replaceChildren();
    showError(e.message);
  }
}

async function runContamination(event) {
  event.preventDefault();
  showError("");
  const out = $("contamination-result");
  out.textContent = "scoring…";
  try {
    const data = await api("/v1/contamination", {
      index: $("index").value, entries: [{id: "pasted", text: $("contamination-text").value}],
    });
    const s = data.scores[0];
    const parts = [el("p", {id: "contamination-summary"}, el("span", {class: "verdict", id: "verdict"}, s.verdict),
      ` · η = ${s.eta.toFixed(3)} · ${fmt(s.windows_found)} of ${fmt(s.windows_total)} windows found` +
      ` · longest match ${fmt(s.longest_match)} characters`)];
    const ev = s.evidence;
    if (ev) {
      parts.push(el("p", {class: "meta"}, `rarest found window occurs ${plural(ev.count, "time")}; ` +
        `one is in document ${ev.doc_id} at byte ${fmt(ev.offset)}`));
      parts.push(el("div", {class: "snippet"}, ev.snippet.before, el("mark", {}, ev.snippet.match), ev.snippet.after));
    }
    out.replaceChildren(...parts);
  } catch (e) {
    out.textContent = "";
    showError(e.message);
  }
}

async function main() {
  $("count-form").addEventListener("submit", runCount);
  $("search-form").addEventListener("submit", (e) => runSearch(e, 0));
  $("prev").addEventListener("click", () => runSearch(null, Math.max(0, searchOffset - PAGE)));
  $("next").addEventListener("click", () => runSearch(null, searchOffset + PAGE));
  $("context").addEventListener("input", () => { $("context-value").textContent = $("context").value; });
  $("contamination-form").addEventListener("submit", runContamination);
  try {
    await loadIndexes();
    const about = await fetch("/", {headers: {Accept: "application/json"}, cache: "no-store"}).then((r) => r.json());
    $("contamination-panel").hidden = !about.contamination;
    document.body.dataset.ready = "1";
  } catch (e) {
    showError(`could not load the list of corpora: ${e.message}`);
  }
}

main();
