// mqtls inspector page. Plain JavaScript, no build step: the broker streams
// batches of changed topics (Server-Sent Events, a few per second) and this
// file keeps them in a tree, rendering only what is expanded.
'use strict';

const $ = (id) => document.getElementById(id);
const H = { 'X-Mqtls-Inspector': '1', 'Content-Type': 'application/json' };
const MAX_ROWS = 3000;

const state = {
  topics: new Map(),          // name -> summary from the broker
  root: newNode('', ''),
  expanded: new Set(['']),
  selected: null,
  detail: null,
  filter: '',
  es: null,
  dirty: false,
  stats: null,
  detailSeq: 0,
  renderSeq: 0,
  cursor: null,          // the tree row the keyboard is on
  scrollToCursor: false,
  pick: null,            // the history message shown, or null for the last
  compare: new Set(),    // ticked history messages
  msgs: new Map(),       // history messages fetched with their payloads
  series: new Set(),     // the fields the chart shows
  chartTopic: null,
};

function newNode(seg, full) { return { seg, full, kids: new Map(), topic: null, agg: 0, rate: 0, n: 0 }; }

// ---------- MQTT filters ----------
function isFilter(s) { return s.includes('+') || s.includes('#'); }
function validFilter(f) {
  const l = f.split('/');
  return l.every((x, i) => (x === '#' ? i === l.length - 1 : x === '+' || !/[+#]/.test(x)));
}

// ---------- the stream ----------
// The broker applies the filter (the API's syntax: an MQTT filter, a word,
// payload:text), so the page and the API always show the same topics.
function searchQuery() {
  if (!state.filter) return '';
  return '?filter=' + encodeURIComponent(state.filter) + ($('payloads').checked ? '&payloads=1' : '');
}

function connect() {
  if (state.es) state.es.close();
  const es = new EventSource('/api/events' + searchQuery());
  state.es = es;
  es.onmessage = (ev) => apply(JSON.parse(ev.data));
  es.onerror = () => { $('stats').textContent = 'disconnected from the broker, retrying…'; };
}

function apply(f) {
  if (f.reset) { state.topics.clear(); state.root = newNode('', ''); }
  for (const g of f.gone || []) {
    const cur = state.topics.get(g.n);
    if (!cur || cur.sq < g.sq) remove(g.n); // a newer state of the topic outlives an older removal
  }
  for (const s of f.topics) {
    const cur = state.topics.get(s.n);
    if (cur && cur.sq > s.sq) continue;
    const had = cur !== undefined;
    state.topics.set(s.n, s);
    if (!had) insert(s.n);
    if (s.n === state.selected) loadDetail();
  }
  if (state.selected !== null) subtreeInfo();
  state.stats = f.stats;
  state.dirty = true;
}

function insert(name) {
  const segs = name.split('/');
  let n = state.root, full = '';
  segs.forEach((seg, i) => {
    full = i === 0 ? seg : full + '/' + seg;
    let k = n.kids.get(seg);
    if (!k) { k = newNode(seg, full); n.kids.set(seg, k); }
    n = k;
  });
  n.topic = name;
  if (state.topics.size <= 200) { // small trees open by themselves
    let p = '';
    for (let i = 0; i < segs.length - 1; i++) { p = i === 0 ? segs[0] : p + '/' + segs[i]; state.expanded.add(p); }
  }
}

function remove(name) {
  state.topics.delete(name);
  const path = [state.root];
  for (const seg of name.split('/')) {
    const k = path[path.length - 1].kids.get(seg);
    if (!k) return;
    path.push(k);
  }
  path[path.length - 1].topic = null;
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i].kids.size || path[i].topic) break;
    path[i - 1].kids.delete(path[i].seg);
  }
}

// ---------- rendering the tree ----------
function aggregate(n, now) {
  let c = 0, r = 0, k = 0, hot = 0;
  const s = n.topic && state.topics.get(n.topic);
  if (s && visible(s.n)) { c += s.c; r += s.r10; k++; hot = s.t; }
  for (const ch of n.kids.values()) {
    aggregate(ch, now);
    c += ch.agg; r += ch.rate; k += ch.n; hot = Math.max(hot, ch.hot);
  }
  n.agg = c; n.rate = r; n.n = k; n.hot = hot;
}

// visible: the stream holds only what the filter matches.
function visible() { return true; }

// setHTML replaces an element's content only when it changed: an element
// swapped for a copy between the press and the release of a click (a
// checkbox, a history row, a kick button) loses the click.
function setHTML(el, html) { if (el.dataset.html !== html) { el.dataset.html = html; el.innerHTML = html; } }
function esc(s) { return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c])); }
function fmtRate(r) { return r >= 100 ? Math.round(r) + '/s' : r >= 0.05 ? r.toFixed(1) + '/s' : ''; }
function fmtBytes(n) { return n < 1024 ? n + ' B' : n < 1 << 20 ? (n / 1024).toFixed(1) + ' KiB' : (n / (1 << 20)).toFixed(1) + ' MiB'; }

function render() {
  if (!state.dirty) return;
  state.dirty = false;
  const now = state.stats ? state.stats.time : Date.now();
  aggregate(state.root, now);
  const out = [];
  let rows = 0;
  const byRate = $('sort-rate').checked;
  const walk = (n, depth) => {
    let kids = [...n.kids.values()].filter((k) => k.n > 0);
    kids.sort(byRate ? (a, b) => b.rate - a.rate || a.seg.localeCompare(b.seg) : (a, b) => a.seg.localeCompare(b.seg));
    for (const k of kids) {
      if (rows >= MAX_ROWS) { out.push('<div class="more">… more rows: narrow the filter</div>'); rows++; return; }
      rows++;
      const open = state.expanded.has(k.full) || (state.filter !== '' && k.n <= 50);
      const s = k.topic ? state.topics.get(k.topic) : null;
      const cls = 'node' + (k.full === state.selected ? ' sel' : '') + (k.full === state.cursor ? ' cur' : '') + (now - k.hot < 1000 ? ' hot' : '');
      out.push(`<div class="${cls}" role="treeitem" data-path="${esc(k.full)}"${s ? ` data-topic="${esc(s.n)}"` : ''} style-pad="${depth}">`);
      out.push(`<span class="tw">${k.kids.size ? (open ? '▾' : '▸') : ''}</span><span class="seg">${esc(k.seg === '' ? '(empty)' : k.seg)}</span>`);
      out.push(`<span class="cnt">${k.agg}${k.n > 1 ? ' · ' + k.n + ' topics' : ''}</span><span class="rate">${fmtRate(k.rate)}</span>`);
      if (s) {
        if (s.rh) out.push('<span class="ret" title="the broker holds a retained message">R</span>');
        if (s.l) out.push(`<span class="lint lint-${esc(s.l)}" title="topic lint: ${esc(s.l)}; pick the topic for the finding">⚠</span>`);
        out.push(s.s === 0 ? '<span class="pv muted">(empty)</span>' : `<span class="pv">= ${esc(s.p)}</span>`);
        if (s.tr || s.s > s.p.length) out.push(`<span class="cut">${fmtBytes(s.s)}${s.tr ? ', cut' : ''}</span>`);
      }
      out.push('</div>');
      if (open && k.kids.size) walk(k, depth + 1);
    }
  };
  walk(state.root, 0);
  const tree = $('tree');
  const html = out.join('');
  // Replace the rows only when they changed: a row replaced between the
  // press and the release of a click loses the click.
  if (html !== state.treeHTML) {
    state.treeHTML = html;
    const top = tree.scrollTop;
    tree.innerHTML = html;
    for (const el of tree.querySelectorAll('[style-pad]')) el.style.paddingLeft = (8 + 16 * +el.getAttribute('style-pad')) + 'px';
    tree.scrollTop = top;
  }
  if (state.scrollToCursor) {
    state.scrollToCursor = false;
    const el = tree.querySelector('.node.cur');
    if (el) el.scrollIntoView({ block: 'nearest' });
  }
  const st = state.stats;
  $('tree-count').textContent = `${state.root.n} topics shown`;
  if (st) {
    $('stats').textContent = `${st.topics} / ${st.maxTopics} topics` + (st.evicted ? ` (${st.evicted} evicted)` : '') +
      ` · ${st.connections} clients · ${st.retained} retained` +
      (st.brokerRetained && st.brokerRetained !== st.retained ? ` (${st.brokerRetained} in the broker, $SYS included)` : '') +
      ` · ${st.received} in · ${st.sent} out · up ${st.uptime}s`;
  }
}

// ---------- topic detail ----------
let detailTimer = null;
function loadDetail() {
  if (detailTimer) return;
  detailTimer = setTimeout(async () => {
    detailTimer = null;
    const name = state.selected;
    if (name === null) return;
    const seq = ++state.detailSeq;
    const r = await fetch('/api/topic?name=' + encodeURIComponent(name));
    if (seq !== state.detailSeq || !r.ok) return;
    state.detail = await r.json();
    showDetail();
  }, 150);
}

// select shows a node of the tree: its last message when a topic ends
// there, and what lies below it.
function select(name, isTopic) {
  if (state.selected !== name) { state.pick = null; state.compare = new Set(); state.msgs = new Map(); }
  state.selected = name;
  state.selectedIsTopic = isTopic;
  state.detail = null;
  state.dirty = true;
  $('topic-empty').hidden = true;
  $('topic').hidden = false;
  $('topic-msg').hidden = !isTopic;
  $('topic-name').textContent = name;
  $('permalink').href = linkOf(name);
  $('permalink').hidden = !isTopic;
  if (isTopic && location.hash !== linkOf(name)) location.hash = linkOf(name); // a step for the back button
  $('clear-result').textContent = '';
  subtreeInfo();
  showTab('topic');
  if (isTopic) loadDetail();
}

// ---------- permalinks and the keyboard ----------
// A topic's link is /#/topic/NAME; opening one (or the back button) selects
// the topic and shows its history, whether or not the tree holds it yet.
function linkOf(name) { return '#/topic/' + encodeURI(name).replace(/#/g, '%23').replace(/\?/g, '%3F'); }
function topicFromHash() {
  if (!location.hash.startsWith('#/topic/')) return null;
  try { return decodeURIComponent(location.hash.slice(8)); } catch { return null; }
}
function openTopic(name) {
  const segs = name.split('/');
  for (let i = 1; i < segs.length; i++) state.expanded.add(segs.slice(0, i).join('/'));
  state.cursor = name;
  state.scrollToCursor = true;
  select(name, true);
}
function followHash() {
  const name = topicFromHash();
  if (name !== null && name !== state.selected) openTopic(name);
  if (name === null && location.hash === '' && state.selected !== null) {
    state.selected = null;
    state.detail = null;
    state.dirty = true;
    $('topic').hidden = true;
    $('topic-empty').hidden = false;
  }
}

// treeKey: arrows move the cursor through the drawn rows (right opens a
// node, left closes it or goes to its parent), Enter opens the row.
function treeKey(ev) {
  const rows = [...$('tree').querySelectorAll('.node')];
  if (!rows.length) return;
  let k = rows.findIndex((r) => r.dataset.path === state.cursor);
  const cur = k >= 0 ? rows[k] : null;
  const path = cur ? cur.dataset.path : null;
  const hasKids = cur && cur.querySelector('.tw').textContent !== '';
  const move = (i) => { k = Math.max(0, Math.min(rows.length - 1, i)); state.cursor = rows[k].dataset.path; state.scrollToCursor = true; };
  switch (ev.key) {
    case 'ArrowDown': move(k + 1); break;
    case 'ArrowUp': move(k < 0 ? 0 : k - 1); break;
    case 'Home': move(0); break;
    case 'End': move(rows.length - 1); break;
    case 'ArrowRight':
      if (!cur) move(0);
      else if (hasKids && !state.expanded.has(path)) state.expanded.add(path);
      else move(k + 1);
      break;
    case 'ArrowLeft':
      if (!cur) move(0);
      else if (hasKids && state.expanded.has(path)) state.expanded.delete(path);
      else if (path.includes('/')) { const up = path.slice(0, path.lastIndexOf('/')); const i = rows.findIndex((r) => r.dataset.path === up); if (i >= 0) move(i); }
      break;
    case 'Enter':
      if (cur) select(path, cur.dataset.topic !== undefined);
      break;
    default: return;
  }
  ev.preventDefault();
  state.dirty = true;
}

// subtreeInfo counts the topics and retained messages under the selection.
function subtreeInfo() {
  const name = state.selected;
  if (name === null) return;
  let n = 0, r = 0;
  for (const s of state.topics.values()) {
    if (s.n.startsWith(name + '/')) { n++; if (s.rh) r++; }
  }
  $('subtree-info').textContent = `${n} topic(s) below, ${r} with a retained message`;
  $('subtree').hidden = n === 0;
}

function b64(s) { const b = atob(s || ''); const u = new Uint8Array(b.length); for (let i = 0; i < b.length; i++) u[i] = b.charCodeAt(i); return u; }
function utf8(u) { try { return new TextDecoder('utf-8', { fatal: true }).decode(u); } catch { return null; } }
function isText(s) { return s !== null && !/[\x00-\x08\x0e-\x1f]/.test(s); }
function imageType(u, ct) {
  if (ct && ct.startsWith('image/')) return ct;
  if (u[0] === 0xff && u[1] === 0xd8 && u[2] === 0xff) return 'image/jpeg';
  if (u[0] === 0x89 && u[1] === 0x50 && u[2] === 0x4e && u[3] === 0x47) return 'image/png';
  if (u[0] === 0x47 && u[1] === 0x49 && u[2] === 0x46) return 'image/gif';
  return null;
}
function hex(u) {
  const lines = [];
  for (let o = 0; o < u.length; o += 16) {
    const row = u.slice(o, o + 16);
    const h = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const a = [...row].map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : '.')).join('');
    lines.push(o.toString(16).padStart(8, '0') + '  ' + h.padEnd(48) + ' ' + a);
  }
  return lines.join('\n');
}
function pretty(s) { try { return JSON.stringify(JSON.parse(s), null, 2); } catch { return null; } }

// line diff (longest common subsequence); inputs are bounded by the payload
// limit. Lines compare without a trailing comma: in pretty-printed JSON a
// field that stays the same but becomes the last one loses its comma.
function diff(a, b) {
  const x = a.split('\n'), y = b.split('\n');
  if (x.length * y.length > 4e6) return esc(b);
  const key = (s) => s.replace(/,\s*$/, '');
  const kx = x.map(key), ky = y.map(key);
  const L = Array.from({ length: x.length + 1 }, () => new Uint32Array(y.length + 1));
  for (let i = x.length - 1; i >= 0; i--) for (let j = y.length - 1; j >= 0; j--) L[i][j] = kx[i] === ky[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  const out = [];
  let i = 0, j = 0;
  while (i < x.length && j < y.length) {
    if (kx[i] === ky[j]) { out.push(esc(y[j]) + '\n'); i++; j++; }
    else if (L[i + 1][j] >= L[i][j + 1]) out.push(`<span class="d-del">${esc(x[i++])}</span>`);
    else out.push(`<span class="d-add">${esc(y[j++])}</span>`);
  }
  while (i < x.length) out.push(`<span class="d-del">${esc(x[i++])}</span>`);
  while (j < y.length) out.push(`<span class="d-add">${esc(y[j++])}</span>`);
  return out.join('');
}

function showDetail() {
  const d = state.detail;
  if (!d) return;
  const m = d.last;
  const meta = [
    ['messages', `${d.c} (${fmtBytes(d.by)})`], ['rate', `${d.r10.toFixed(2)}/s over 10 s · ${d.r60.toFixed(2)}/s over 1 min`],
    ['last', new Date(m.time).toLocaleString()], ['size', fmtBytes(m.size)], ['QoS', m.qos],
    ['retain', (m.retain ? 'flag set' : 'flag not set') + (d.rh ? ' · the broker holds a retained message' : '')],
    ['publisher', m.clientId + (m.username ? ` · user ${m.username}` : '') + (m.cn ? ` · certificate CN ${m.cn}` : '')],
  ];
  $('topic-meta').innerHTML = meta.map(([k, v]) => `<dt>${k}</dt><dd>${esc(v)}</dd>`).join('');
  const p = m.props || {};
  const props = [];
  if (p.contentType) props.push(['content type', p.contentType]);
  if (p.payloadFormat !== undefined) props.push(['payload format', p.payloadFormat ? 'UTF-8 text' : 'bytes']);
  if (p.responseTopic) props.push(['response topic', p.responseTopic]);
  if (p.correlationData) props.push(['correlation data', hex(b64(p.correlationData))]);
  if (p.messageExpiry) props.push(['message expiry', p.messageExpiry + ' s']);
  for (const u of p.user || []) props.push(['user property ' + u.k, u.v]);
  if (p.truncated) props.push(['note', 'properties cut at 1 KiB']);
  const lint = d.lint || [];
  $('topic-lint').innerHTML = lint.length ? '<h3>topic lint</h3><ul>' + lint.map((f) =>
    `<li class="lint-${esc(f.severity)}"><code>${esc(f.rule)}</code> <b>${esc(f.severity)}</b>: ${esc(f.message)}` +
    (f.suggestion ? ` (${esc(f.suggestion)})` : '') + (f.rationale ? `<br><span class="muted">${esc(f.rationale)}</span>` : '') + '</li>').join('') + '</ul>' : '';
  $('topic-props').innerHTML = props.length ? '<dl>' + props.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('') + '</dl>' : '';
  const tr = $('truncated');
  tr.hidden = !m.truncated;
  tr.textContent = m.truncated ? `Showing the first ${fmtBytes(m.payload ? b64(m.payload).length : 0)} of ${fmtBytes(m.size)}: the inspector keeps at most inspector_payload_bytes per message.` : '';
  renderPayload();
  renderHistory();
  renderChart();
}

// ---------- the history list ----------
function fmtTime(ms) { const d = new Date(ms); return d.toLocaleTimeString([], { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0'); }

function renderHistory() {
  const d = state.detail;
  const ms = (d && d.messages) || [];
  $('history-count').textContent = `${ms.length} message(s) held` + (d && d.c > ms.length ? ` of ${d.c}` : '') +
    ' · click one to show it, tick two to compare them';
  const shown = state.pick || (d && d.last.n);
  setHTML($('history-list').tBodies[0], ms.map((m) => `<tr data-n="${m.n}"${m.n === shown ? ' class="sel"' : ''}>` +
    `<td><input type="checkbox" class="cmp" data-n="${m.n}"${state.compare.has(m.n) ? ' checked' : ''} title="compare"></td>` +
    `<td>#${m.n}</td><td>${esc(fmtTime(m.time))}</td><td>${m.qos}</td><td>${m.retain ? 'R' : ''}</td><td>${esc(fmtBytes(m.size))}${m.truncated ? ', cut' : ''}</td>` +
    `<td>${esc(m.clientId)}${m.username ? ' · ' + esc(m.username) : ''}${m.cn ? ' · CN ' + esc(m.cn) : ''}</td><td class="pv">${esc(m.preview)}</td></tr>`).join(''));
}

// messageN is message number n of the selected topic, with its payload.
async function messageN(n) {
  const d = state.detail;
  if (d.last.n === n) return d.last;
  if (d.prev && d.prev.n === n) return d.prev;
  if (state.msgs.has(n)) return state.msgs.get(n);
  const r = await fetch('/api/message?name=' + encodeURIComponent(d.n) + '&n=' + n);
  if (!r.ok) return null;
  const m = await r.json();
  if (state.msgs.size > 200) state.msgs.clear();
  state.msgs.set(n, m);
  return m;
}

// renderPayload shows the picked message of the history (the last by
// default); the diff compares it with the message before it, or the two
// ticked ones with each other.
async function renderPayload() {
  const d = state.detail;
  if (!d) return;
  const token = ++state.renderSeq;
  let m = (state.pick && (await messageN(state.pick))) || d.last;
  let mode = $('view-mode').value;
  let base = null;
  const cmp = [...state.compare].sort((a, b) => a - b);
  if (cmp.length === 2) {
    base = await messageN(cmp[0]);
    m = (await messageN(cmp[1])) || m;
    mode = 'diff';
  } else if (mode === 'diff') {
    const k = (d.messages || []).findIndex((x) => x.n === m.n);
    const older = k >= 0 ? d.messages[k + 1] : null;
    base = older ? await messageN(older.n) : null;
  }
  if (token !== state.renderSeq) return;
  $('payload-of').textContent = cmp.length === 2 ? `comparing #${cmp[0]} with #${cmp[1]}` :
    m.n !== d.last.n ? `message #${m.n} of ${fmtTime(m.time)} (not the last)` : '';
  $('download').href = '/api/payload?name=' + encodeURIComponent(d.n) + '&n=' + m.n;
  const u = b64(m.payload);
  const text = utf8(u);
  const img = imageType(u, m.props && m.props.contentType);
  if (mode === 'auto') mode = img ? 'image' : text !== null && pretty(text) !== null && /^\s*[[{]/.test(text) ? 'json' : isText(text) ? 'text' : 'hex';
  const box = $('payload');
  if (mode === 'image') {
    const url = URL.createObjectURL(new Blob([u], { type: img || 'image/png' }));
    box.innerHTML = '';
    const el = new Image();
    el.src = url;
    el.alt = d.n;
    box.appendChild(el);
    return;
  }
  let html;
  if (mode === 'json') html = esc(pretty(text) ?? text ?? hex(u));
  else if (mode === 'hex') html = esc(hex(u));
  else if (mode === 'diff') {
    if (!base) html = '<span class="muted">no earlier message held</span>';
    else {
      const pu = b64(base.payload), pt = utf8(pu);
      const a = pt === null ? hex(pu) : pretty(pt) ?? pt, b = text === null ? hex(u) : pretty(text) ?? text;
      html = diff(a, b);
    }
  } else html = esc(text ?? hex(u));
  box.innerHTML = `<pre id="payload-text">${html}</pre>`;
}

// numbers is what the broker samples of a payload, by field name: the
// payload itself ("value") or the numeric leaves of JSON, in payload order.
function numbers(text) {
  const out = new Map();
  if (text === null) return out;
  const t = text.trim();
  if (t === 'true' || t === 'false') { out.set('value', t === 'true' ? 1 : 0); return out; }
  if (t !== '' && !/^[[{]/.test(t)) { const v = Number(t); if (Number.isFinite(v)) out.set('value', v); return out; }
  let doc;
  try { doc = JSON.parse(t); } catch { return out; }
  const walk = (v, path, depth) => {
    if (out.size >= 8 || depth > 4 || path.length > 64) return;
    if (typeof v === 'number' && path) out.set(path, v);
    else if (typeof v === 'boolean' && path) out.set(path, v ? 1 : 0);
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, path ? path + '.' + k : k, depth + 1);
  };
  walk(doc, '', 0);
  return out;
}

const CHART_DEFAULT_SERIES = 3;
const fmtNum = (v) => String(+v.toPrecision(6));

// renderChart draws the picked fields over the zoomed window, each scaled
// to its own range (the legend gives min, max and last), on a time axis.
// The broker keeps one sample a second; the last message's own values end
// the chart, so "last" is always the last message.
function renderChart() {
  const d = state.detail;
  const box = $('chart-box');
  if (!d || !d.fields.length) { box.hidden = true; return; }
  box.hidden = false;
  if (state.chartTopic !== d.n) { // a new topic: the first few fields, in payload order
    state.chartTopic = d.n;
    state.series = new Set(d.fields.slice(0, CHART_DEFAULT_SERIES));
  }
  setHTML($('chart-fields'), d.fields.map((f, i) => `<label class="s${i}"><input type="checkbox" data-field="${esc(f)}"${state.series.has(f) ? ' checked' : ''}> ${esc(f)}</label>`).join(' '));
  const now = Math.max(state.stats ? state.stats.time : Date.now(), d.last.time);
  const span = +$('chart-zoom').value * 60000, t0 = now - span;
  const lastVals = numbers(utf8(b64(d.last.payload)));
  const svg = $('chart');
  const parts = [], legend = [];
  d.fields.forEach((f, i) => {
    if (!state.series.has(f)) return;
    const pts = d.samples.filter((s) => s.t >= t0 && s.v[i] !== null && s.v[i] !== undefined).map((s) => [s.t, s.v[i]]);
    if (lastVals.has(f) && d.last.time >= t0) {
      if (pts.length && Math.floor(pts[pts.length - 1][0] / 1000) === Math.floor(d.last.time / 1000)) pts.pop();
      pts.push([d.last.time, lastVals.get(f)]);
    }
    if (!pts.length) { legend.push(`<li class="s${i}">${esc(f)}: no sample in the last ${span / 60000} min</li>`); return; }
    const vs = pts.map((p) => p[1]);
    const lo = Math.min(...vs), hi = Math.max(...vs);
    const x = (t) => (((t - t0) / span) * 600).toFixed(1);
    const y = (v) => (hi === lo ? 80 : 150 - ((v - lo) / (hi - lo)) * 140).toFixed(1);
    if (pts.length === 1) parts.push(`<circle class="s${i}" data-field="${esc(f)}" cx="${x(pts[0][0])}" cy="${y(pts[0][1])}" r="3"/>`);
    else parts.push(`<polyline class="s${i}" data-field="${esc(f)}" points="${pts.map(([t, v]) => x(t) + ',' + y(v)).join(' ')}"/>`);
    legend.push(`<li class="s${i}" data-field="${esc(f)}"><b>${esc(f)}</b> ${pts.length} sample${pts.length === 1 ? '' : 's'} · min ${fmtNum(lo)} · max ${fmtNum(hi)} · last ${fmtNum(vs[vs.length - 1])}</li>`);
  });
  svg.innerHTML = parts.join('');
  $('chart-legend').innerHTML = legend.join('') || '<li class="muted">tick a field to chart it</li>';
  const axis = $('chart-axis');
  const ticks = [];
  for (let k = 0; k <= 4; k++) {
    const t = t0 + (span * k) / 4;
    ticks.push(`<span data-pos="${k * 25}">${esc(new Date(t).toLocaleTimeString([], { hour12: false }))}</span>`);
  }
  axis.innerHTML = ticks.join('');
  for (const el of axis.children) el.style.left = el.dataset.pos + '%';
}

// ---------- actions ----------
async function post(path, body) {
  const r = await fetch(path, { method: 'POST', headers: H, body: JSON.stringify(body) });
  let j = {};
  try { j = await r.json(); } catch { /* empty */ }
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}

async function publish(ev) {
  ev.preventDefault();
  const topic = $('pub-topic').value;
  try {
    await post('/api/publish', { topic, payload: $('pub-payload').value, qos: +$('pub-qos').value, retain: $('pub-retain').checked, contentType: $('pub-ct').value });
    $('pub-result').textContent = `published to ${topic}`;
  } catch (e) { $('pub-result').textContent = 'error: ' + e.message; }
}

async function clear(sub) {
  const name = state.selected;
  if (name === null) return;
  // name/# also matches name itself, as in MQTT
  const body = sub ? { filter: name + '/#' } : { topic: name };
  if (sub && !confirm(`Clear every retained message under ${name}/# ?`)) return;
  try {
    const j = await post('/api/clear', body);
    $('clear-result').textContent = `cleared ${j.cleared.length} retained message(s)` + (j.denied.length ? `, ${j.denied.length} refused by your ACL or a broker hook` : '');
  } catch (e) { $('clear-result').textContent = 'error: ' + e.message; }
}

async function loadClients() {
  const r = await fetch('/api/clients');
  if (!r.ok) return;
  const j = await r.json();
  const rows = (j.clients || []).map((c) => `<tr data-client="${esc(c.id)}"><td>${esc(c.id)}</td><td>${esc(c.username || '')}${c.cn ? ` <span class="ret">cert ${esc(c.cn)}</span>` : ''}</td>` +
    `<td>${esc((c.roles || []).join(', '))}</td><td>${esc(c.remote)}<br><span class="muted">${esc(c.listener)}</span></td><td>${c.protocol === 5 ? '5' : c.protocol === 4 ? '3.1.1' : '3.1'}</td>` +
    `<td>${(c.subscriptions || []).map((s) => `<code>${esc(s.filter)} (QoS ${s.qos})</code>`).join('')}</td><td><button class="kick danger" type="button" data-client="${esc(c.id)}">kick</button></td></tr>`);
  // replaced only when they change (setHTML): a kick button swapped for
  // a copy between the press and the release of a click loses the click
  const html = rows.join('') || '<tr><td colspan="7" class="muted">no clients connected</td></tr>';
  setHTML($('clients').tBodies[0], html);
  const bridges = j.bridges || [];
  $('bridges').hidden = bridges.length === 0;
  setHTML($('bridges').tBodies[0], bridges.map((b) => `<tr data-bridge="${esc(b.name)}"><td>${esc(b.name)}</td><td>${esc(b.state)}</td><td>${esc(b.address)}</td>` +
    `<td>${b.queued}</td><td>${b.sent} (${b.sentRate.toFixed(1)})</td><td>${b.received} (${b.receivedRate.toFixed(1)})</td><td>${b.dropped}</td></tr>`).join(''));
}

async function kick(id) {
  try { await post('/api/kick', { clientId: id }); $('clients-result').textContent = `kicked ${id}`; } catch (e) { $('clients-result').textContent = 'error: ' + e.message; }
  setTimeout(loadClients, 300);
}

function showTab(name) {
  for (const t of document.querySelectorAll('.tab')) t.classList.toggle('on', t.dataset.tab === name);
  for (const p of ['topic', 'publish', 'clients', 'access']) $('panel-' + p).hidden = p !== name;
  if (name === 'clients') loadClients();
  if (name === 'access') loadAccess();
}

// ---------- start ----------
async function start() {
  const r = await fetch('/api/session');
  const s = await r.json();
  $('who').textContent = s.loggedIn ? s.user : s.loginRequired ? '' : 'local';
  if (!s.ok) { $('login').hidden = false; return; }
  connect();
  followHash();
}

$('login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    await post('/api/login', { username: $('login-user').value, password: $('login-pass').value });
    $('login').hidden = true;
    start();
  } catch (e) { $('login-error').textContent = e.message; }
});
// Select on press, not on click: the rows are redrawn as messages arrive,
// and a row redrawn before the release would lose a click.
$('tree').addEventListener('pointerdown', (ev) => {
  if (ev.button !== 0) return;
  const row = ev.target.closest('.node');
  if (!row) return;
  const p = row.dataset.path;
  state.cursor = p;
  select(p, row.dataset.topic !== undefined);
  if (state.expanded.has(p)) state.expanded.delete(p); else state.expanded.add(p);
  state.dirty = true;
});
$('tree').addEventListener('keydown', treeKey);
let slashPending = false;
document.addEventListener('keydown', (ev) => {
  const t = ev.target;
  const typing = t.closest && t.closest('input, textarea, select, [contenteditable]');
  if (ev.key === '/' && !typing && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
    ev.preventDefault();
    slashPending = true; // its keypress must not type the / into the filter
    $('filter').focus();
    $('filter').select();
  } else if (ev.key === 'Escape' && t === $('filter')) {
    $('tree').focus();
  }
});
document.addEventListener('keypress', (ev) => {
  if (slashPending && ev.key === '/') ev.preventDefault();
  slashPending = false;
});
document.addEventListener('keyup', () => { slashPending = false; });
window.addEventListener('hashchange', followHash);
let filterTimer;
$('filter').addEventListener('input', () => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => {
    const f = $('filter').value.trim();
    const name = f.startsWith('payload:') ? '' : f.split(' payload:')[0].trim();
    const bad = isFilter(name) && !validFilter(name);
    $('filter').classList.toggle('bad', bad);
    if (bad || f === state.filter) return;
    state.filter = f;
    state.dirty = true;
    connect();
  }, 200);
});
$('payloads').addEventListener('change', () => { if (state.filter) connect(); });
for (const t of document.querySelectorAll('.tab')) t.addEventListener('click', () => showTab(t.dataset.tab));
$('pub-form').addEventListener('submit', publish);
$('view-mode').addEventListener('change', renderPayload);
$('history-list').addEventListener('click', (ev) => {
  const box = ev.target.closest('.cmp');
  if (box) {
    const n = +box.dataset.n;
    if (box.checked) state.compare.add(n); else state.compare.delete(n);
    while (state.compare.size > 2) state.compare.delete([...state.compare][0]);
  } else {
    const row = ev.target.closest('tr[data-n]');
    if (!row) return;
    const n = +row.dataset.n;
    state.pick = state.detail && n === state.detail.last.n ? null : n;
  }
  renderHistory();
  renderPayload();
});
$('chart-zoom').addEventListener('change', renderChart);
$('chart-fields').addEventListener('change', (ev) => {
  const f = ev.target.dataset.field;
  if (f === undefined) return;
  if (ev.target.checked) state.series.add(f); else state.series.delete(f);
  renderChart();
});
$('clear-topic').addEventListener('click', () => clear(false));
$('clear-tree').addEventListener('click', () => clear(true));
$('use-in-publish').addEventListener('click', () => {
  $('pub-topic').value = state.selected || '';
  if (state.detail) { const t = utf8(b64(state.detail.last.payload)); if (t !== null) $('pub-payload').value = t; }
  showTab('publish');
});
$('clients').addEventListener('click', (ev) => { const b = ev.target.closest('.kick'); if (b) kick(b.dataset.client); });
$('sort-rate').addEventListener('change', () => { state.dirty = true; });
$('theme').addEventListener('click', () => {
  const dark = document.documentElement.classList.contains('dark') ||
    (!document.documentElement.classList.contains('light') && matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.classList.toggle('dark', !dark);
  document.documentElement.classList.toggle('light', dark);
  localStorage.setItem('mqtls-theme', dark ? 'light' : 'dark');
});
const savedTheme = localStorage.getItem('mqtls-theme');
if (savedTheme) document.documentElement.classList.add(savedTheme);
setInterval(() => { if (!$('panel-clients').hidden) loadClients(); }, 2000);
(function loop() { render(); requestAnimationFrame(loop); })();
start();
