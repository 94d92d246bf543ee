// mqtls inspector, the Access view: dynamic security through the broker's
// $CONTROL/dynamic-security/v1 API, the requests mosquitto_ctrl sends, with
// the logged-in user's right to send them. Every change asks first; the
// API's own error strings are shown as they come.
'use strict';

const ACL_TYPES = ['publishClientSend', 'publishClientReceive', 'subscribeLiteral', 'subscribePattern', 'unsubscribeLiteral', 'unsubscribePattern'];
const DEFAULT_TYPES = ['publishClientSend', 'publishClientReceive', 'subscribe', 'unsubscribe'];
const acc = { clients: [], groups: [], roles: [], connected: new Set(), certs: null };

async function control(commands) {
  const j = await post('/api/dynsec', { commands });
  return j.responses || [];
}

function accessResult(text, bad) {
  const el = $('access-result');
  el.textContent = text;
  el.className = bad ? 'error' : 'muted';
}

// change asks, sends the commands, shows the outcome and reloads the lists.
async function change(what, commands) {
  if (!confirm(what + '?')) return false;
  let ok = false;
  try {
    const rs = await control(commands);
    const bad = rs.filter((r) => r.error);
    ok = bad.length === 0;
    accessResult(ok ? 'done: ' + what : 'error: ' + bad.map((r) => `${r.command}: ${r.error}`).join('; '), !ok);
  } catch (e) { accessResult('error: ' + e.message, true); }
  await loadAccess();
  return ok;
}

const refs = (list, key) => (list || []).map((r) => r[key] + (r.priority !== undefined && r.priority !== -1 ? ` (${r.priority})` : ''));
const options = (names) => names.map((n) => `<option value="${esc(n)}">${esc(n)}</option>`).join('');

// loadCerts asks whether the broker's PKI holds a certificate for each
// client; a broker without one (no enroll_pki) answers 404 and the column
// is hidden.
async function loadCerts(names) {
  let r;
  try {
    r = await fetch('/api/dynsec/certs', { method: 'POST', headers: H, body: JSON.stringify({ usernames: names }) });
  } catch (e) { acc.certs = null; accessResult('error: certificates: ' + e.message, true); return; }
  const j = await r.json().catch(() => ({}));
  $('acc-clients').classList.toggle('no-pki', r.status === 404);
  acc.certs = r.ok ? (j.certs || {}) : null;
  if (!r.ok && r.status !== 404) accessResult('error: certificates: ' + (j.error || r.statusText), true);
}

const CERT_CLASS = { valid: 'ok', none: 'muted', superseded: 'muted' };
function certCell(name) {
  if (!acc.certs) return '';
  const st = acc.certs[name] || 'none';
  return `<span class="${CERT_CLASS[st] || 'warn'}">${st === 'none' ? 'no certificate' : esc(st)}</span>`;
}

async function loadAccess() {
  let rs;
  try {
    rs = await control([{ command: 'listClients', verbose: true }, { command: 'listGroups', verbose: true },
      { command: 'listRoles', verbose: true }, { command: 'getDefaultACLAccess' }, { command: 'getAnonymousGroup' }]);
    const cr = await fetch('/api/clients');
    acc.connected = new Set(cr.ok ? ((await cr.json()).clients || []).map((c) => c.username).filter(Boolean) : []);
  } catch (e) { accessResult('error: ' + e.message, true); return; }
  const bad = rs.filter((r) => r.error);
  if (bad.length) accessResult('error: ' + bad.map((r) => `${r.command}: ${r.error}`).join('; '), true);
  const data = (k) => (rs[k] && rs[k].data) || {};
  acc.clients = data(0).clients || [];
  await loadCerts(acc.clients.map((c) => c.username));
  acc.groups = data(1).groups || [];
  acc.roles = data(2).roles || [];
  const defaults = data(3).acls || [];
  const anon = (data(4).group || {}).groupname || '';

  setHTML($('acc-clients').tBodies[0], acc.clients.map((c) => `<tr data-user="${esc(c.username)}"><td>${esc(c.username)}</td><td>${esc(c.clientid || '')}</td>` +
    `<td>${esc(refs(c.roles, 'rolename').join(', '))}</td><td>${esc(refs(c.groups, 'groupname').join(', '))}</td>` +
    `<td>${c.disabled ? '<span class="warn">disabled</span>' : 'enabled'}</td><td>${acc.connected.has(c.username) ? 'connected' : ''}</td>` +
    `<td class="cert">${certCell(c.username)}</td>` +
    `<td><button type="button" data-act="${c.disabled ? 'enableClient' : 'disableClient'}">${c.disabled ? 'enable' : 'disable'}</button> ` +
    `<button type="button" data-act="setClientPassword">password…</button> <button type="button" class="danger" data-act="deleteClient">delete</button></td></tr>`).join('') ||
    '<tr><td colspan="8" class="muted">no clients</td></tr>');
  setHTML($('acc-groups').tBodies[0], acc.groups.map((g) => `<tr data-group="${esc(g.groupname)}"><td>${esc(g.groupname)}${g.groupname === anon ? ' <span class="ret">anonymous</span>' : ''}</td>` +
    `<td>${esc(refs(g.roles, 'rolename').join(', '))}</td><td>${esc((g.clients || []).map((c) => c.username).join(', '))}</td>` +
    `<td><button type="button" class="danger" data-act="deleteGroup">delete</button></td></tr>`).join('') || '<tr><td colspan="4" class="muted">no groups</td></tr>');
  setHTML($('acc-roles').tBodies[0], acc.roles.map((r) => `<tr data-role="${esc(r.rolename)}"><td>${esc(r.rolename)}</td><td>` +
    (r.acls || []).map((a) => `<code data-acltype="${esc(a.acltype)}" data-topic="${esc(a.topic)}">${esc(a.acltype)} ${esc(a.topic)} ${a.allow ? 'allow' : 'deny'} · priority ${a.priority || 0} ` +
      `<button type="button" class="danger x" data-act="removeRoleACL" title="remove this ACL">×</button></code>`).join('') +
    `</td><td><button type="button" class="danger" data-act="deleteRole">delete</button></td></tr>`).join('') || '<tr><td colspan="3" class="muted">no roles</td></tr>');

  const keep = (id, html) => { const el = $(id); const v = el.value; el.innerHTML = html; if ([...el.options].some((o) => o.value === v)) el.value = v; };
  const users = acc.clients.map((c) => c.username), groups = acc.groups.map((g) => g.groupname), roles = acc.roles.map((r) => r.rolename);
  keep('acc-m-client', options(users));
  keep('acc-m-target', roles.map((n) => `<option value="role:${esc(n)}">role ${esc(n)}</option>`).join('') + groups.map((n) => `<option value="group:${esc(n)}">group ${esc(n)}</option>`).join(''));
  keep('acc-gr-group', options(groups));
  keep('acc-gr-role', options(roles));
  keep('acc-acl-role', options(roles));
  keep('acc-anon', '<option value="">(none)</option>' + options(groups));
  $('acc-anon').value = anon;
  $('acc-defaults').innerHTML = DEFAULT_TYPES.map((t) => {
    const cur = defaults.find((a) => a.acltype === t);
    return `<label>${t} <select data-acltype="${t}"><option value="allow"${cur && cur.allow ? ' selected' : ''}>allow</option><option value="deny"${cur && !cur.allow ? ' selected' : ''}>deny</option></select></label>`;
  }).join(' ');
}

function wireAccess() {
  $('acc-acl-type').innerHTML = options(ACL_TYPES);
  $('acc-new-client').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const cmd = { command: 'createClient', username: $('acc-cu').value };
    if ($('acc-cp').value) cmd.password = $('acc-cp').value;
    if ($('acc-cid').value) cmd.clientid = $('acc-cid').value;
    change(`create client ${cmd.username}`, [cmd]).then((ok) => { if (ok) $('acc-new-client').reset(); });
  });
  $('acc-new-group').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const g = $('acc-gn').value;
    change(`create group ${g}`, [{ command: 'createGroup', groupname: g }]).then((ok) => { if (ok) $('acc-new-group').reset(); });
  });
  $('acc-new-role').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const r = $('acc-rn').value;
    change(`create role ${r}`, [{ command: 'createRole', rolename: r }]).then((ok) => { if (ok) $('acc-new-role').reset(); });
  });
  // a client's roles and groups
  $('acc-member').addEventListener('click', (ev) => {
    const op = ev.target.dataset.op;
    if (!op) return;
    const user = $('acc-m-client').value, target = $('acc-m-target').value, prio = +$('acc-m-prio').value;
    if (!user || !target) return;
    const [kind, name] = [target.slice(0, target.indexOf(':')), target.slice(target.indexOf(':') + 1)];
    const cmd = kind === 'role' ? { command: op === 'add' ? 'addClientRole' : 'removeClientRole', username: user, rolename: name }
      : { command: op === 'add' ? 'addGroupClient' : 'removeGroupClient', username: user, groupname: name };
    if (op === 'add') cmd.priority = prio;
    change(`${op} ${kind} ${name} ${op === 'add' ? 'to' : 'from'} client ${user}`, [cmd]);
  });
  $('acc-group-role').addEventListener('click', (ev) => {
    const op = ev.target.dataset.op;
    if (!op) return;
    const g = $('acc-gr-group').value, r = $('acc-gr-role').value;
    if (!g || !r) return;
    const cmd = { command: op === 'add' ? 'addGroupRole' : 'removeGroupRole', groupname: g, rolename: r };
    if (op === 'add') cmd.priority = +$('acc-gr-prio').value;
    change(`${op} role ${r} ${op === 'add' ? 'to' : 'from'} group ${g}`, [cmd]);
  });
  $('acc-acl').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const cmd = { command: 'addRoleACL', rolename: $('acc-acl-role').value, acltype: $('acc-acl-type').value, topic: $('acc-acl-topic').value,
      allow: $('acc-acl-allow').value === 'allow', priority: +$('acc-acl-prio').value };
    change(`add ACL ${cmd.acltype} ${cmd.topic} ${cmd.allow ? 'allow' : 'deny'} (priority ${cmd.priority}) to role ${cmd.rolename}`, [cmd]);
  });
  $('acc-defaults-save').addEventListener('click', () => {
    const acls = [...$('acc-defaults').querySelectorAll('select')].map((s) => ({ acltype: s.dataset.acltype, allow: s.value === 'allow' }));
    change('set the default ACL access to ' + acls.map((a) => `${a.acltype} ${a.allow ? 'allow' : 'deny'}`).join(', '), [{ command: 'setDefaultACLAccess', acls }]);
  });
  $('acc-anon-save').addEventListener('click', () => {
    const g = $('acc-anon').value;
    if (!g) { accessResult('pick a group: the API has no "no anonymous group"', true); return; }
    change(`make ${g} the anonymous group`, [{ command: 'setAnonymousGroup', groupname: g }]);
  });
  $('panel-access').addEventListener('click', async (ev) => {
    const b = ev.target.closest('button[data-act]');
    if (!b) return;
    const act = b.dataset.act;
    const user = b.closest('[data-user]'), group = b.closest('[data-group]'), role = b.closest('[data-role]');
    if (user) {
      const u = user.dataset.user;
      if (act === 'setClientPassword') {
        const pw = prompt(`new password for ${u}`);
        if (pw === null) return;
        change(`set the password of ${u}`, [{ command: act, username: u, password: pw }]);
      } else change(`${act.replace('Client', '')} client ${u}`, [{ command: act, username: u }]);
    } else if (group) change(`delete group ${group.dataset.group}`, [{ command: act, groupname: group.dataset.group }]);
    else if (role && act === 'removeRoleACL') {
      const a = b.closest('[data-acltype]');
      change(`remove ACL ${a.dataset.acltype} ${a.dataset.topic} from role ${role.dataset.role}`,
        [{ command: act, rolename: role.dataset.role, acltype: a.dataset.acltype, topic: a.dataset.topic }]);
    } else if (role) change(`delete role ${role.dataset.role}`, [{ command: act, rolename: role.dataset.role }]);
  });
  $('acc-check').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams({ username: $('acc-ck-user').value, clientid: $('acc-ck-id').value, topic: $('acc-ck-topic').value, access: $('acc-ck-access').value });
    const r = await fetch('/api/dynsec/check?' + q);
    const j = await r.json().catch(() => ({}));
    const out = $('acc-check-result');
    out.textContent = r.ok ? j.explanation : 'error: ' + (j.error || r.statusText);
    out.className = r.ok && j.allow ? 'ok' : 'error';
  });
}
wireAccess();
