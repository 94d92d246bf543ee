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
      const cls = 'node' + (k.full === state.selected ? ' sel' : '') + (now - k.hot < 1000 ? ' hot' : '');
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
  state.selected = name;
  state.selectedIsTopic = isTopic;
  state.detail = null;
  state.dirty = true;
  $('topic-empty').hidden = true;
  $('topic').hidden = false;
  $('topic-msg').hidden = !isTopic;
  $('topic-name').textContent = name;
  $('clear-result').textContent = '';
  subtreeInfo();
  showTab('topic');
  if (isTopic) loadDetail();
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
  $('download').href = '/api/payload?name=' + encodeURIComponent(d.n);
  renderPayload();
  renderChart();
}

function renderPayload() {
  const d = state.detail;
  if (!d) return;
  const u = b64(d.last.payload);
  const text = utf8(u);
  let mode = $('view-mode').value;
  const img = imageType(u, d.last.props && d.last.props.contentType);
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
    if (!d.prev) html = '<span class="muted">no previous message</span>';
    else {
      const pu = b64(d.prev.payload), pt = utf8(pu);
      const a = pt === null ? hex(pu) : pretty(pt) ?? pt, b = text === null ? hex(u) : pretty(text) ?? text;
      html = diff(a, b);
    }
  } else html = esc(text ?? hex(u));
  box.innerHTML = `<pre id="payload-text">${html}</pre>`;
}

function renderChart() {
  const d = state.detail;
  const box = $('chart-box');
  if (!d || !d.fields.length || d.history.length < 1) { box.hidden = true; return; }
  box.hidden = false;
  const sel = $('chart-field');
  const cur = sel.value;
  sel.innerHTML = d.fields.map((f, i) => `<option value="${i}">${esc(f)}</option>`).join('');
  if (cur && +cur < d.fields.length) sel.value = cur;
  const k = +sel.value || 0;
  const pts = d.history.filter((s) => s.v[k] !== null && s.v[k] !== undefined).map((s) => [s.t, s.v[k]]);
  const svg = $('chart');
  if (!pts.length) { svg.innerHTML = ''; return; }
  const t0 = pts[0][0], t1 = Math.max(pts[pts.length - 1][0], t0 + 1);
  let lo = Math.min(...pts.map((p) => p[1])), hi = Math.max(...pts.map((p) => p[1]));
  if (hi === lo) { hi += 1; lo -= 1; }
  const xy = pts.map(([t, v]) => `${((t - t0) / (t1 - t0)) * 600},${150 - ((v - lo) / (hi - lo)) * 140}`).join(' ');
  svg.innerHTML = `<polyline points="${xy}"/>`;
  $('chart-range').textContent = `${pts.length} samples · min ${lo} · max ${hi} · last ${pts[pts.length - 1][1]}`;
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
  $('clients').tBodies[0].innerHTML = rows.join('') || '<tr><td colspan="7" class="muted">no clients connected</td></tr>';
  const bridges = j.bridges || [];
  $('bridges').hidden = bridges.length === 0;
  $('bridges').tBodies[0].innerHTML = bridges.map((b) => `<tr data-bridge="${esc(b.name)}"><td>${esc(b.name)}</td><td>${esc(b.state)}</td><td>${esc(b.address)}</td>` +
    `<td>${b.queued}</td><td>${b.sent} (${b.sentRate.toFixed(1)})</td><td>${b.received} (${b.receivedRate.toFixed(1)})</td><td>${b.dropped}</td></tr>`).join('');
}

async function kick(id) {
  try { await post('/api/kick', { clientId: id }); $('clients-result').textContent = `kicked ${id}`; } catch (e) { $('clients-result').textContent = 'error: ' + e.message; }
  setTimeout(loadClients, 300);
}

function showTab(name) {
  for (const t of document.querySelectorAll('.tab')) t.classList.toggle('on', t.dataset.tab === name);
  for (const p of ['topic', 'publish', 'clients']) $('panel-' + p).hidden = p !== name;
  if (name === 'clients') loadClients();
}

// ---------- start ----------
async function start() {
  const r = await fetch('/api/session');
  const s = await r.json();
  $('who').textContent = s.loggedIn ? s.user : s.loginRequired ? '' : 'local';
  if (!s.ok) { $('login').hidden = false; return; }
  connect();
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
  select(p, row.dataset.topic !== undefined);
  if (state.expanded.has(p)) state.expanded.delete(p); else state.expanded.add(p);
  state.dirty = true;
});
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
$('chart-field').addEventListener('change', renderChart);
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
