// rowguard console. The server renders each page's frame and refuses pages the user may not
// open; this script fills the page from the JSON API with the session cookie and the CSRF
// token. Text from the server is only ever set as text (never as HTML).
'use strict';

const page = document.body.dataset;
const BASE = page.base || '';
const CSRF = page.csrf || '';
const PERMISSIONS = new Set((page.permissions || '').split(' ').filter(Boolean));
const can = (key) => PERMISSIONS.has(key);
const app = () => document.getElementById('app');

// ---- building blocks ------------------------------------------------------------------

/** An element: `h('a', {href: x, onclick: f}, 'text', child)`. Strings become text nodes. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function show(...nodes) {
  app().replaceChildren(...nodes.flat().filter(Boolean));
}

function badge(text, kind) {
  return h('span', { class: `badge ${kind || text}` }, text);
}

function failure(error) {
  return h('p', { class: 'error', role: 'alert' }, error.message || String(error));
}

function empty(text) {
  return h('p', { class: 'empty' }, text);
}

function table(headers, rows, attrs) {
  return h('div', { class: 'table-wrap' },
    h('table', attrs || {},
      h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows)));
}

function when(text) {
  if (!text) return '';
  const at = new Date(text);
  return Number.isNaN(at.getTime()) ? text : at.toLocaleString();
}

function query() {
  return new URLSearchParams(location.search);
}

function url(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== '' && v != null) q.set(k, v);
  const s = q.toString();
  return BASE + path + (s ? `?${s}` : '');
}

// One path segment. rowguard stores no set value `.` or `..`, which a browser would resolve
// (encoded or not) as a path step.
const seg = encodeURIComponent;

class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** JSON text sent as it is (a document whose own parser is stricter than JSON.parse). */
class JsonText {
  constructor(text) { this.text = text; }
}

/** Calls the API; a lapsed session sends the browser to the login page. */
async function api(method, path, body) {
  const options = { method, headers: {}, credentials: 'same-origin' };
  if (body !== undefined) {
    options.headers['Content-Type'] = 'application/json';
    options.body = body instanceof JsonText ? body.text : JSON.stringify(body);
  }
  if (method !== 'GET') options.headers['X-CSRF-Token'] = CSRF;
  let response;
  try {
    response = await fetch(BASE + path, options);
  } catch (_) {
    throw new ApiError(0, 'The server cannot be reached; check the connection and try again.');
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = text; }
  if (response.status === 401 && page.page !== 'login' && path !== '/api/me/password') {
    location.assign(url('/console/login', { next: location.pathname + location.search }));
    throw new ApiError(401, 'Your session has ended; log in again.');
  }
  if (!response.ok) {
    const message = (data && data.error) || `The server answered ${response.status}.`;
    throw new ApiError(response.status, message, data && data.code);
  }
  return data;
}

/** A button that runs `action`, disabled while it runs, with errors shown in `out`. */
function busy(button, action) {
  return async (event) => {
    if (event) event.preventDefault();
    button.disabled = true;
    try { await action(); } finally { button.disabled = false; }
  };
}

// ---- log in, log out, password ---------------------------------------------------------

function safeNext(next) {
  // Only a page of this console (after the browser's own normalising of `..` and `%2e`):
  // never another site, nor another page of the application.
  const prefix = `${BASE}/console/`;
  try {
    const target = new URL(next || prefix, location.origin);
    if (target.origin === location.origin && target.pathname.startsWith(prefix)) {
      return target.pathname + target.search;
    }
  } catch (_) { /* not a URL */ }
  return prefix;
}

function loginPage() {
  const q = query();
  const message = h('div', { role: 'status', 'aria-live': 'polite' });
  if (q.get('changed')) message.append(h('p', { class: 'success' }, 'Your password is changed; log in with the new one.'));
  const name = h('input', { id: 'name', name: 'name', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit' }, 'Log in');
  const form = h('form', { class: 'stack panel', id: 'login' },
    h('label', { for: 'name' }, h('span', {}, 'Name'), name),
    h('label', { for: 'password' }, h('span', {}, 'Password'), password),
    submit, message);
  form.addEventListener('submit', busy(submit, async () => {
    message.replaceChildren();
    try {
      await api('POST', '/api/login', { name: name.value, password: password.value });
      location.assign(safeNext(q.get('next')));
    } catch (e) {
      password.value = '';
      message.append(failure(e));
      password.focus();
    }
  }));
  show(form);
}

function logoutButton() {
  const button = document.getElementById('logout');
  if (!button) return;
  button.addEventListener('click', busy(button, async () => {
    try { await api('POST', '/api/logout'); } catch (_) { /* gone already */ }
    location.assign(url('/console/login'));
  }));
}

function passwordPage() {
  const out = h('div', { role: 'status', 'aria-live': 'polite' });
  const field = (id, label, auto) => h('label', { for: id }, h('span', {}, label),
    h('input', { id, type: 'password', autocomplete: auto, required: true }));
  const submit = h('button', { type: 'submit' }, 'Change password');
  const form = h('form', { class: 'stack panel', id: 'password-form' },
    field('current', 'Current password', 'current-password'),
    field('new', 'New password', 'new-password'),
    field('again', 'New password again', 'new-password'),
    h('p', { class: 'hint' }, 'Every session of yours ends when the password changes.'),
    submit, out);
  form.addEventListener('submit', busy(submit, async () => {
    out.replaceChildren();
    const value = (id) => document.getElementById(id).value;
    if (value('new') !== value('again')) {
      out.append(failure(new Error('The two new passwords differ.')));
      return;
    }
    try {
      await api('POST', '/api/me/password', { current_password: value('current'), new_password: value('new') });
      location.assign(url('/console/login', { changed: '1' }));
    } catch (e) {
      out.append(failure(e));
    }
  }));
  show(form);
}

// ---- jobs -----------------------------------------------------------------------------

const STATUSES = ['running', 'completed', 'failed', 'killed', 'timed_out'];

function commandCard(command) {
  const inputs = [];
  const run = h('button', { type: 'submit', disabled: !can('jobs.command.run') }, 'Run');
  const out = h('div', { role: 'status', 'aria-live': 'polite' });
  const fields = Object.entries(command.params || {}).map(([name, spec]) => {
    const id = `p-${command.name}-${name}`;
    let pattern = null;
    try { pattern = spec.pattern ? new RegExp(spec.pattern, 'u') : null; } catch (_) { /* the server checks */ }
    const hint = h('span', { class: 'hint', id: `${id}-hint` }, spec.pattern ? `must match ${spec.pattern}` : '');
    const input = h('input', { id, name, value: spec.default || '', 'aria-describedby': `${id}-hint`, autocomplete: 'off' });
    const check = () => {
      const bad = pattern && !pattern.test(input.value);
      input.setAttribute('aria-invalid', bad ? 'true' : 'false');
      hint.className = bad ? 'hint bad' : 'hint';
      return !bad;
    };
    input.addEventListener('input', () => { check(); run.disabled = !can('jobs.command.run') || !inputs.every((i) => i.check()); });
    inputs.push({ name, input, check });
    return h('label', { for: id }, h('span', {}, name), input, hint);
  });
  const form = h('form', { class: 'card stack', 'data-command': command.name },
    h('h3', {}, command.name),
    command.description ? h('p', { class: 'muted' }, command.description) : null,
    fields, run, out);
  form.addEventListener('submit', busy(run, async () => {
    out.replaceChildren();
    if (!inputs.every((i) => i.check())) {
      out.append(failure(new Error('A parameter does not match its pattern.')));
      return;
    }
    const params = Object.fromEntries(inputs.map((i) => [i.name, i.input.value]));
    try {
      const started = await api('POST', '/api/jobs', { command: command.name, params });
      location.assign(`${BASE}/console/jobs/${seg(started.uuid)}`);
    } catch (e) {
      out.append(failure(e));
    }
  }));
  return form;
}

async function jobsPage() {
  const q = query();
  const sections = [];
  let commands = [];
  if (can('jobs.command.list')) {
    const holder = h('div', { class: 'cards' });
    sections.push(h('h2', {}, 'Run a command'), holder);
    try {
      commands = await api('GET', '/api/commands');
      holder.replaceChildren(...(commands.length ? commands.map(commandCard)
        : [empty('No command is configured that your roles may run.')]));
    } catch (e) { holder.replaceChildren(failure(e)); }
  }
  const filters = h('form', { class: 'row panel', id: 'filters', role: 'search' },
    // Free text: the history holds commands that are no longer configured too.
    h('label', { for: 'f-command' }, h('span', {}, 'Command'),
      h('input', { id: 'f-command', name: 'command', list: 'f-commands', value: q.get('command') || '', autocomplete: 'off' }),
      h('datalist', { id: 'f-commands' }, commands.map((c) => h('option', { value: c.name })))),
    h('label', { for: 'f-status' }, h('span', {}, 'Status'),
      h('select', { id: 'f-status', name: 'status' }, h('option', { value: '' }, 'any'),
        STATUSES.map((s) => h('option', { value: s, selected: q.get('status') === s }, s)))),
    h('label', { for: 'f-user' }, h('span', {}, 'User'),
      h('input', { id: 'f-user', name: 'user', value: q.get('user') || '' })),
    h('label', { for: 'f-since' }, h('span', {}, 'Since'),
      h('input', { id: 'f-since', name: 'since', type: 'date', value: q.get('since') || '' })),
    h('label', { for: 'f-until' }, h('span', {}, 'Before'),
      h('input', { id: 'f-until', name: 'until', type: 'date', value: q.get('until') || '' })),
    h('button', { type: 'submit' }, 'Filter'));
  // A plain GET form: the filters and the page live in the address, so reload and the back
  // button keep them.
  filters.setAttribute('method', 'get');
  const history = h('div', { id: 'history' });
  sections.push(h('h2', {}, 'History'), filters, history);
  show(sections);
  await loadHistory(history, q);
}

async function loadHistory(holder, q) {
  const limit = 20;
  const offset = Math.max(0, Number(q.get('offset')) || 0);
  const params = new URLSearchParams({ limit, offset });
  for (const key of ['command', 'status', 'user']) if (q.get(key)) params.set(key, q.get(key));
  for (const key of ['since', 'until']) {
    const at = q.get(key) ? new Date(`${q.get(key)}T00:00:00`) : null;
    if (at && Number.isNaN(at.getTime())) { holder.replaceChildren(failure(new Error(`"${key}" must be a date.`))); return; }
    if (at) params.set(key, at.toISOString());
  }
  let answer;
  try { answer = await api('GET', `/api/jobs?${params}`); } catch (e) { holder.replaceChildren(failure(e)); return; }
  const rows = answer.jobs.map((job) => h('tr', {},
    h('td', {}, h('a', { href: `${BASE}/console/jobs/${seg(job.uuid)}` }, when(job.started_at))),
    h('td', {}, h('code', {}, job.command)),
    h('td', {}, h('code', {}, Object.entries(job.parameters || {}).map(([k, v]) => `${k}=${v}`).join(' '))),
    h('td', {}, job.user),
    h('td', {}, badge(job.status)),
    h('td', { class: 'num' }, job.exit_code ?? '')));
  const pageTo = (to) => {
    const next = new URLSearchParams(location.search);
    next.set('offset', to);
    return `${location.pathname}?${next}`;
  };
  holder.replaceChildren(
    rows.length ? table(['Started', 'Command', 'Parameters', 'User', 'Status', 'Exit'], rows, { id: 'jobs-table' })
      : empty(offset ? 'No more jobs.' : 'No job matches (or the rules show you none).'),
    h('nav', { class: 'pager', 'aria-label': 'Pages' },
      offset > 0 ? h('a', { class: 'button quiet', href: pageTo(Math.max(0, offset - limit)) }, '← Newer') : null,
      h('span', { class: 'muted' }, rows.length ? `${offset + 1}–${offset + rows.length}` : ''),
      answer.next_offset != null ? h('a', { class: 'button quiet', href: pageTo(answer.next_offset) }, 'Older →') : null));
}

function jobFacts(job) {
  const facts = [
    ['Command', h('code', {}, job.command)],
    ['Parameters', h('code', {}, JSON.stringify(job.parameters || {}))],
    ['User', job.user],
    ['Status', h('span', { id: 'job-status' }, badge(job.status))],
    ['Exit code', job.exit_code ?? '—'],
    ['Started', when(job.started_at)],
    ['Finished', when(job.finished_at) || '—'],
  ];
  if (job.kill_requested_by) facts.push(['Kill requested', `by ${job.kill_requested_by}, ${when(job.kill_requested_at)}`]);
  if (job.killed_by) facts.push(['Killed by', job.killed_by]);
  return h('dl', { class: 'facts', id: 'job-facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

async function jobPage() {
  const uuid = page.arg;
  let job;
  try { job = await api('GET', `/api/jobs/${seg(uuid)}`); } catch (e) {
    show(e.status === 404 ? empty('There is no such job, or the rules do not let you see it.') : failure(e));
    return;
  }
  const facts = h('div', { class: 'panel' }, jobFacts(job));
  const actions = h('div', { class: 'row', id: 'job-actions' });
  const steps = h('ol', { id: 'escalation', 'aria-live': 'polite', class: 'muted' });
  const stepsHeading = h('h2', { hidden: true }, 'Kill');
  // The heading shows once there is a step to list.
  new MutationObserver(() => { stepsHeading.hidden = !steps.children.length; }).observe(steps, { childList: true });
  const out = h('div', { role: 'status', 'aria-live': 'polite' });
  const refresh = (next) => {
    job = next;
    facts.replaceChildren(jobFacts(job));
    if (job.status !== 'running') kill.remove();
  };
  const kill = h('button', { type: 'button', class: 'danger', id: 'kill' }, 'Kill');
  kill.addEventListener('click', busy(kill, async () => {
    out.replaceChildren();
    try {
      const answer = await api('POST', `/api/jobs/${seg(uuid)}/kill`);
      if (answer.job) refresh(answer.job);
      steps.append(h('li', {}, `kill requested at ${new Date().toLocaleTimeString()}`));
    } catch (e) { out.append(failure(e)); }
  }));
  if (job.status === 'running' && can('jobs.kill.own')) actions.append(kill);
  if (can('jobs.output.read')) {
    actions.append(h('a', { class: 'button quiet', href: `${BASE}/api/jobs/${seg(uuid)}/output.txt`, download: `job-${uuid}.txt` }, 'Download output'));
  }
  const sections = [facts, actions, out, h('h2', {}, 'Output')];
  if (!can('jobs.output.read')) {
    sections.push(empty('Reading a job\u2019s output needs permission jobs.output.read.'));
    show(sections, stepsHeading, steps);
    return;
  }
  const state = h('p', { class: 'stream-state muted', id: 'stream-state', role: 'status' }, 'connecting…');
  const output = h('pre', { class: 'output', id: 'output', tabindex: '0', 'aria-label': 'Job output' });
  show(sections, state, output, stepsHeading, steps);
  follow(uuid, output, state, steps, refresh);
}

/**
 * Follows a job's output over server-sent events. Each event carries the byte offset it
 * starts at and its id is the offset after it: the browser reconnects with Last-Event-ID
 * after a dropped connection, and an event that overlaps what is shown is trimmed, so no
 * byte is lost or shown twice.
 */
function follow(uuid, output, state, steps, refresh) {
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  let shown = 0; // bytes shown
  const source = new EventSource(`${BASE}/api/jobs/${seg(uuid)}/events?from=0`);
  const stickToEnd = () => output.scrollHeight - output.scrollTop - output.clientHeight < 40;
  source.addEventListener('open', () => { state.textContent = 'live'; });
  source.addEventListener('output', (event) => {
    const data = JSON.parse(event.data);
    // Offsets are the server's byte counts; the text may hold U+FFFD for bytes that were not
    // UTF-8, so its length in the page is not a byte count.
    if (data.next <= shown) return; // already shown
    let text = data.text;
    if (data.offset > shown) {
      output.append(h('span', { class: 'gap' }, `\n[console: ${data.offset - shown} bytes missing]\n`));
    } else if (data.offset < shown) {
      text = decoder.decode(encoder.encode(text).slice(shown - data.offset));
    }
    const atEnd = stickToEnd();
    output.append(text);
    shown = data.next;
    // rowguard's own lines come apart from the program's output: a job cannot forge them.
    for (const note of data.notes || []) {
      if (note.startsWith('[rowguard] ')) steps.append(h('li', {}, note.slice('[rowguard] '.length)));
    }
    if (atEnd) output.scrollTop = output.scrollHeight;
  });
  source.addEventListener('end', (event) => {
    source.close();
    const job = JSON.parse(event.data);
    refresh(job);
    state.textContent = `ended: ${job.status}`;
  });
  source.addEventListener('error', (event) => {
    if (event.data) { // the server's own error event: the stream will not resume
      source.close();
      const data = JSON.parse(event.data);
      state.replaceChildren(h('span', { class: 'error' }, data.error));
      return;
    }
    state.textContent = source.readyState === EventSource.CLOSED
      ? 'disconnected; reload the page to resume' : 'connection lost; reconnecting…';
  });
}

// ---- rules ----------------------------------------------------------------------------

async function loadModels() {
  const models = await api('GET', '/api/models');
  return models.filter((m) => !m.error).map((m) => m.name);
}

function select(id, label, values, current, attrs) {
  return h('label', { for: id }, h('span', {}, label),
    h('select', { id, name: id, ...(attrs || {}) },
      values.map((v) => (Array.isArray(v)
        ? h('option', { value: v[0], selected: v[0] === current }, v[1])
        : h('option', { value: v, selected: v === current }, v)))));
}

async function rulesPage() {
  const q = query();
  let models; let setTypes;
  try {
    [models, setTypes] = await Promise.all([loadModels(), api('GET', '/api/set-types')]);
  } catch (e) { show(failure(e)); return; }
  const model = q.get('model') || '';
  const filters = h('form', { class: 'row panel', id: 'rule-filters', method: 'get', role: 'search' },
    select('model', 'Model', [['', 'every model'], ...models], model),
    select('set_type', 'Set type', [['', 'every set type'], ...setTypes], q.get('set_type') || ''),
    h('label', { for: 'set_value' }, h('span', {}, 'Set value'),
      h('input', { id: 'set_value', name: 'set_value', value: q.get('set_value') || '' })),
    h('button', { type: 'submit' }, 'Show'),
    can('rules.write') ? h('button', { type: 'button', class: 'quiet', id: 'new-rule', onclick: () => editor(null) }, 'New rule') : null);
  const list = h('div', { id: 'rule-list' });
  const editorBox = h('div', { id: 'editor-box' });
  show(filters, editorBox, list);

  async function reload() {
    let rows;
    try { rows = await api('GET', model ? `/api/rules?model=${seg(model)}` : '/api/rules'); } catch (e) {
      list.replaceChildren(failure(e)); return;
    }
    rows = rows.filter((r) => (!q.get('set_type') || r.set_type === q.get('set_type'))
      && (!q.get('set_value') || r.set_value.includes(q.get('set_value'))));
    if (!rows.length) { list.replaceChildren(empty('No rule rows match.')); return; }
    list.replaceChildren(table(['#', 'Set type', 'Set value', 'Model', 'State', 'Rules', ''],
      rows.map((r) => h('tr', { 'data-rule': r.id },
        h('td', { class: 'num' }, r.id),
        h('td', {}, r.set_type), h('td', {}, h('strong', {}, r.set_value)), h('td', {}, r.model),
        h('td', {}, r.valid ? badge('valid') : [badge('invalid'), h('div', { class: 'hint bad' }, r.error)]),
        h('td', {}, h('code', {}, typeof r.rules === 'string' ? r.rules : JSON.stringify(r.rules))),
        h('td', {}, h('button', { type: 'button', class: 'quiet', onclick: () => editor(r) }, can('rules.write') ? 'Edit' : 'View'))))));
    const wanted = Number(q.get('edit'));
    if (wanted && !editorBox.firstChild) {
      const row = rows.find((r) => r.id === wanted);
      if (row) editor(row);
    }
  }

  function editor(row) {
    const isNew = !row;
    const text = isNew ? '{\n  "read": "*"\n}'
      : (typeof row.rules === 'string' ? row.rules : JSON.stringify(row.rules, null, 2));
    const typeField = select('e-set-type', 'Set type', setTypes, isNew ? 'roles' : row.set_type, { disabled: !isNew });
    const valueField = h('input', { id: 'e-set-value', value: isNew ? '' : row.set_value, disabled: !isNew, required: true });
    const modelField = select('e-model', 'Model', models, isNew ? (model || models[0]) : row.model, { disabled: !isNew });
    const area = h('textarea', { id: 'rule-text', class: 'code', spellcheck: 'false', 'aria-describedby': 'rule-state', 'aria-label': 'Rule document (JSON)' }, text);
    const stateLine = h('div', { id: 'rule-state', class: 'editor-state', role: 'status', 'aria-live': 'polite' });
    const save = h('button', { type: 'submit', id: 'save-rule', disabled: true }, 'Save');
    const remove = !isNew && can('rules.write') ? h('button', { type: 'button', class: 'danger', id: 'delete-rule' }, 'Delete') : null;
    const close = h('button', { type: 'button', class: 'quiet', onclick: () => editorBox.replaceChildren() }, 'Close');
    const out = h('div', { role: 'status', 'aria-live': 'polite' });
    const form = h('form', { class: 'panel', id: 'rule-editor' },
      h('h2', {}, isNew ? 'New rule' : `Rule #${row.id}`),
      h('div', { class: 'row' }, typeField, h('label', { for: 'e-set-value' }, h('span', {}, 'Set value'), valueField), modelField),
      h('div', { class: 'field' }, area),
      stateLine,
      h('div', { class: 'row' }, can('rules.write') ? save : null, remove, close),
      out);
    editorBox.replaceChildren(form);
    area.focus();
    let checked = { text: null, valid: false };
    let sequence = 0;
    let timer = null;
    const modelName = () => document.getElementById('e-model').value;
    async function check() {
      const mine = ++sequence;
      const current = area.value;
      if (!can('rules.check')) {
        let ok = true;
        try { JSON.parse(current); } catch (e) { ok = false; stateLine.replaceChildren(failure(e)); }
        if (ok) stateLine.replaceChildren(h('p', { class: 'muted' }, 'Validation needs permission rules.check; the server checks on save.'));
        checked = { text: current, valid: ok };
        save.disabled = !ok;
        return;
      }
      stateLine.replaceChildren(h('p', { class: 'muted' }, 'Checking…'));
      try {
        const answer = await api('POST', '/api/rules/check', { model: modelName(), rules: current });
        if (mine !== sequence) return; // a newer check is on its way
        checked = { text: current, valid: answer.valid };
        area.setAttribute('aria-invalid', answer.valid ? 'false' : 'true');
        stateLine.replaceChildren(answer.valid
          ? h('p', { class: 'success' }, 'Valid.', (answer.warnings || []).map((w) => h('div', { class: 'hint' }, `warning: ${w}`)))
          : h('p', { class: 'error', id: 'rule-error' }, answer.error));
        save.disabled = !answer.valid;
      } catch (e) {
        if (mine !== sequence) return;
        stateLine.replaceChildren(failure(e));
        save.disabled = true;
      }
    }
    const schedule = () => {
      save.disabled = true;
      clearTimeout(timer);
      timer = setTimeout(check, 250);
    };
    area.addEventListener('input', schedule);
    document.getElementById('e-model').addEventListener('change', schedule);
    check();
    form.addEventListener('submit', busy(save, async () => {
      out.replaceChildren();
      if (checked.text !== area.value || !checked.valid) {
        out.append(failure(new Error('The rule is not valid yet; it is not saved.')));
        return;
      }
      const setType = isNew ? document.getElementById('e-set-type').value : row.set_type;
      // A stored row keeps its value exactly (white space included): trimming it would
      // address another set's row.
      const setValue = isNew ? valueField.value.trim() : row.set_value;
      if (!setValue) { out.append(failure(new Error('A set value is needed.'))); return; }
      try {
        const model = isNew ? modelName() : row.model;
        const answer = await api('PUT', `/api/rules/${seg(setType)}/${seg(setValue)}/${seg(model)}`, JSON.parse(area.value));
        out.append(h('p', { class: 'success', id: 'saved' }, `Saved (${answer.result}).`));
        await reload();
      } catch (e) { out.append(failure(e)); }
    }));
    if (remove) {
      remove.addEventListener('click', busy(remove, async () => {
        if (!window.confirm(`Delete rule #${row.id} (${row.set_type} "${row.set_value}" on ${row.model})?`)) return;
        try {
          await api('DELETE', `/api/rules/${seg(row.set_type)}/${seg(row.set_value)}/${seg(row.model)}`);
          editorBox.replaceChildren(h('p', { class: 'success' }, `Rule #${row.id} deleted.`));
          await reload();
        } catch (e) { out.append(failure(e)); }
      }));
    }
  }

  await reload();
}

/** IAM-style policies: the stored ones with their validity, an editor checked by the server
 * as you type (the text itself, so a key given twice is caught), and a decision for any
 * subject with what decided it. */
async function policiesPage() {
  let setTypes;
  try { setTypes = await api('GET', '/api/set-types'); } catch (e) { show(failure(e)); return; }
  const top = h('div', { class: 'row panel' },
    h('p', { class: 'muted' }, 'One policy per set: its statements Allow or Deny actions on resources (ARNs); a Deny wins.'),
    can('policies.write') ? h('button', { type: 'button', class: 'quiet', id: 'new-policy', onclick: () => editor(null) }, 'New policy') : null);
  const list = h('div', { id: 'policy-list' });
  const editorBox = h('div', { id: 'policy-editor-box' });
  const sets = h('textarea', { id: 'p-sets', class: 'code', rows: 2, spellcheck: 'false', 'aria-describedby': 'p-sets-hint' }, 'roles=');
  const attributes = h('textarea', { id: 'p-attributes', class: 'code', rows: 2, spellcheck: 'false', 'aria-describedby': 'p-attr-hint' }, '');
  const action = h('input', { id: 'p-action', required: true, placeholder: 'server:Delete' });
  const resource = h('input', { id: 'p-resource', required: true, placeholder: 'arn:rowguard:default:local:123:server/1' });
  const ask = h('button', { type: 'submit' }, 'Try');
  const decision = h('div', { id: 'p-result', 'aria-live': 'polite' });
  const tryForm = h('form', { class: 'panel', id: 'policy-try' },
    h('h2', {}, 'Try a decision'),
    h('div', { class: 'split' },
      h('label', { for: 'p-sets' }, h('span', {}, 'Subject: sets'), sets,
        h('span', { class: 'hint', id: 'p-sets-hint' }, 'One set type per line: roles=agent,support (inheritance applies)')),
      h('label', { for: 'p-attributes' }, h('span', {}, 'Subject: attributes'), attributes,
        h('span', { class: 'hint', id: 'p-attr-hint' }, 'One per line: account=123, region=eu'))),
    h('div', { class: 'row' },
      h('label', { for: 'p-action' }, h('span', {}, 'Action'), action),
      h('label', { for: 'p-resource' }, h('span', {}, 'Resource'), resource),
      ask),
    decision);
  show(top, editorBox, list, tryForm);

  tryForm.addEventListener('submit', busy(ask, async () => {
    decision.replaceChildren();
    let request;
    try {
      request = { subject: parseLines(sets.value, true), attributes: parseLines(attributes.value, false),
        action: action.value.trim(), resource: resource.value.trim() };
    } catch (e) { decision.append(failure(e)); return; }
    try {
      const answer = await api('POST', '/api/policies/explain', request);
      decision.append(
        h('p', { id: 'p-decision' }, badge(answer.allowed ? 'allowed' : 'denied', answer.allowed ? 'all' : 'none'), ` ${answer.decision}`),
        h('pre', { class: 'block', id: 'p-text' }, answer.text));
    } catch (e) { decision.append(failure(e)); }
  }));

  async function reload() {
    let rows;
    try { rows = await api('GET', '/api/policies'); } catch (e) { list.replaceChildren(failure(e)); return; }
    if (!rows.length) { list.replaceChildren(empty('No policy is stored.')); return; }
    list.replaceChildren(table(['#', 'Set type', 'Set value', 'State', 'Statements', 'Policy', ''],
      rows.map((r) => h('tr', { 'data-policy': r.id },
        h('td', { class: 'num' }, r.id),
        h('td', {}, r.set_type), h('td', {}, h('strong', {}, r.set_value)),
        h('td', {}, r.valid ? badge('valid')
          : [badge('invalid'), h('div', { class: 'hint bad' }, r.error, r.refuses_everything ? ' (it may hold a Deny: its subjects are refused everything)' : '')]),
        h('td', { class: 'num' }, r.statements === null ? '' : r.statements),
        h('td', {}, h('code', {}, typeof r.policy === 'string' ? r.policy : JSON.stringify(r.policy))),
        h('td', {}, h('button', { type: 'button', class: 'quiet', onclick: () => editor(r) }, can('policies.write') ? 'Edit' : 'View')))), { id: 'policy-table' }));
  }

  function editor(row) {
    const isNew = !row;
    const text = isNew ? '[\n  {"Effect": "Allow", "Action": "server:List", "Resource": "arn:rowguard:default:local:*:server"}\n]'
      : (typeof row.policy === 'string' ? row.policy : JSON.stringify(row.policy, null, 2));
    const typeField = select('e-set-type', 'Set type', setTypes, isNew ? 'roles' : row.set_type, { disabled: !isNew });
    const valueField = h('input', { id: 'e-set-value', value: isNew ? '' : row.set_value, disabled: !isNew, required: true });
    const area = h('textarea', { id: 'policy-text', class: 'code', spellcheck: 'false', 'aria-describedby': 'policy-state', 'aria-label': 'Policy document (JSON)' }, text);
    const stateLine = h('div', { id: 'policy-state', class: 'editor-state', role: 'status', 'aria-live': 'polite' });
    const save = h('button', { type: 'submit', id: 'save-policy', disabled: true }, 'Save');
    const remove = !isNew && can('policies.write') ? h('button', { type: 'button', class: 'danger', id: 'delete-policy' }, 'Delete') : null;
    const close = h('button', { type: 'button', class: 'quiet', onclick: () => editorBox.replaceChildren() }, 'Close');
    const out = h('div', { role: 'status', 'aria-live': 'polite' });
    const form = h('form', { class: 'panel', id: 'policy-editor' },
      h('h2', {}, isNew ? 'New policy' : `Policy #${row.id}`),
      h('div', { class: 'row' }, typeField, h('label', { for: 'e-set-value' }, h('span', {}, 'Set value'), valueField)),
      h('div', { class: 'field' }, area),
      stateLine,
      h('div', { class: 'row' }, can('policies.write') ? save : null, remove, close),
      out);
    editorBox.replaceChildren(form);
    area.focus();
    let checked = { text: null, valid: false };
    let sequence = 0;
    let timer = null;
    async function check() {
      const mine = ++sequence;
      const current = area.value;
      if (!can('rules.check')) {
        let ok = true;
        try { JSON.parse(current); } catch (e) { ok = false; stateLine.replaceChildren(failure(e)); }
        if (ok) stateLine.replaceChildren(h('p', { class: 'muted' }, 'Validation needs permission rules.check; the server checks on save.'));
        checked = { text: current, valid: ok };
        save.disabled = !ok;
        return;
      }
      stateLine.replaceChildren(h('p', { class: 'muted' }, 'Checking…'));
      try {
        const answer = await api('POST', '/api/policies/check', { policy: current });
        if (mine !== sequence) return; // a newer check is on its way
        checked = { text: current, valid: answer.valid };
        area.setAttribute('aria-invalid', answer.valid ? 'false' : 'true');
        stateLine.replaceChildren(answer.valid
          ? h('p', { class: 'success' }, `Valid: ${answer.statements} statement(s).`, (answer.warnings || []).map((w) => h('div', { class: 'hint' }, `warning: ${w}`)))
          : h('p', { class: 'error', id: 'policy-error' }, answer.error));
        save.disabled = !answer.valid;
      } catch (e) {
        if (mine !== sequence) return;
        stateLine.replaceChildren(failure(e));
        save.disabled = true;
      }
    }
    area.addEventListener('input', () => {
      save.disabled = true;
      clearTimeout(timer);
      timer = setTimeout(check, 250);
    });
    check();
    form.addEventListener('submit', busy(save, async () => {
      out.replaceChildren();
      if (checked.text !== area.value || !checked.valid) {
        out.append(failure(new Error('The policy is not valid yet; it is not saved.')));
        return;
      }
      const setType = isNew ? document.getElementById('e-set-type').value : row.set_type;
      // A stored row keeps its value exactly (white space included): trimming it would
      // address another set's row.
      const setValue = isNew ? valueField.value.trim() : row.set_value;
      if (!setValue) { out.append(failure(new Error('A set value is needed.'))); return; }
      try {
        // The text as checked: the server parses it again, as strictly.
        const answer = await api('PUT', `/api/policies/${seg(setType)}/${seg(setValue)}`, new JsonText(area.value));
        out.append(h('p', { class: 'success', id: 'policy-saved' }, `Saved (${answer.result}).`));
        await reload();
      } catch (e) { out.append(failure(e)); }
    }));
    if (remove) {
      remove.addEventListener('click', busy(remove, async () => {
        if (!window.confirm(`Delete policy #${row.id} (${row.set_type} "${row.set_value}")?`)) return;
        try {
          await api('DELETE', `/api/policies/${seg(row.set_type)}/${seg(row.set_value)}`);
          editorBox.replaceChildren(h('p', { class: 'success' }, `Policy #${row.id} deleted.`));
          await reload();
        } catch (e) { out.append(failure(e)); }
      }));
    }
  }

  await reload();
}

/** `roles=agent,support` lines into `{"roles": ["agent", "support"]}`. */
function parseLines(text, list) {
  const result = {};
  for (const line of text.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const at = line.indexOf('=');
    if (at < 1) throw new Error(`"${line}" is not NAME=VALUE`);
    const key = line.slice(0, at).trim();
    const value = line.slice(at + 1).trim();
    result[key] = list ? value.split(',').map((v) => v.trim()).filter(Boolean) : value;
  }
  return result;
}

async function explainPage() {
  const q = query();
  let models;
  try { models = await loadModels(); } catch (e) { show(failure(e)); return; }
  const sets = h('textarea', { id: 'x-sets', class: 'code', rows: 3, spellcheck: 'false', 'aria-describedby': 'x-sets-hint' }, q.get('sets') || 'roles=');
  const attributes = h('textarea', { id: 'x-attributes', class: 'code', rows: 2, spellcheck: 'false', 'aria-describedby': 'x-attr-hint' }, q.get('attributes') || '');
  const sample = h('input', { id: 'x-sample', type: 'checkbox', checked: can('rules.try') && q.get('sample') !== '0', disabled: !can('rules.try') });
  const submit = h('button', { type: 'submit' }, 'Explain');
  const result = h('div', { id: 'explanation', 'aria-live': 'polite' });
  const form = h('form', { class: 'panel', id: 'explain-form' },
    h('div', { class: 'split' },
      h('label', { for: 'x-sets' }, h('span', {}, 'Subject: sets'), sets,
        h('span', { class: 'hint', id: 'x-sets-hint' }, 'One set type per line: roles=agent,support (inheritance applies)')),
      h('label', { for: 'x-attributes' }, h('span', {}, 'Subject: attributes'), attributes,
        h('span', { class: 'hint', id: 'x-attr-hint' }, 'One per line, for $subject.NAME: id=17'))),
    h('div', { class: 'row' },
      select('x-model', 'Model', models, q.get('model') || models[0]),
      select('x-action', 'Right', ['create', 'read', 'update', 'delete'], q.get('action') || 'read'),
      h('label', { for: 'x-sample', class: 'row' }, sample, can('rules.try') ? 'Show which sample rows it allows' : 'Sample rows need permission rules.try'),
      submit));
  show(form, result);
  const run = busy(submit, async () => {
    result.replaceChildren();
    let subject; let attrs;
    try {
      subject = parseLines(sets.value, true);
      attrs = parseLines(attributes.value, false);
    } catch (e) { result.append(failure(e)); return; }
    const request = {
      subject, attributes: attrs,
      model: document.getElementById('x-model').value,
      action: document.getElementById('x-action').value,
    };
    if (sample.checked) request.sample = 20;
    history.replaceState(null, '', url('/console/explain', {
      sets: sets.value, attributes: attributes.value, model: request.model, action: request.action,
    }));
    try {
      const answer = await api('POST', '/api/rules/explain', request);
      result.append(explanation(answer));
    } catch (e) { result.append(failure(e)); }
  });
  form.addEventListener('submit', run);
  if (q.get('model')) run();
}

function explanation(answer) {
  const verdict = answer.access;
  const words = { all: 'every row', none: 'no row', some: 'the rows the filter lets through' };
  const parts = [
    h('div', { class: 'panel' },
      h('p', { id: 'verdict' }, badge(verdict), ` ${answer.action} on ${answer.model}: ${words[verdict]}`,
        answer.absolute_rights ? ' (absolute rights)' : ''),
      h('p', { class: 'muted' }, `effective roles: ${(answer.roles || []).join(', ') || 'none'}`),
      h('h3', {}, 'Merged filter'), h('pre', { class: 'block', id: 'x-filter' }, answer.filter),
      h('h3', {}, 'SQL'), h('pre', { class: 'block', id: 'x-sql' }, answer.sql)),
  ];
  if (answer.sample_error) {
    parts.push(h('h2', {}, 'Sample rows'), failure(new Error(`The sample could not be read: ${answer.sample_error}`)));
  }
  if (answer.sample) {
    const columns = answer.sample.length ? Object.keys(answer.sample[0].row) : [];
    parts.push(h('h2', {}, 'Sample rows'), answer.sample.length
      ? table(['Allowed', ...columns], answer.sample.map((s) => h('tr', { class: s.allowed ? 'allowed' : 'refused' },
        h('td', {}, s.allowed ? badge('yes', 'all') : badge('no', 'none')),
        columns.map((c) => h('td', {}, s.row[c] === null ? h('span', { class: 'muted' }, 'NULL') : String(s.row[c]))))), { id: 'sample' })
      : empty('The table has no rows.'));
  }
  parts.push(h('h2', {}, 'Full explanation'), h('pre', { class: 'block', id: 'x-text' }, answer.text));
  return h('div', {}, parts);
}

async function gridPage() {
  const q = query();
  let models;
  try { models = await loadModels(); } catch (e) { show(failure(e)); return; }
  if (!models.length) { show(empty('No model is registered yet (cargo xtask sync-models).')); return; }
  const model = q.get('model') || models[0];
  const form = h('form', { class: 'row panel', method: 'get' }, select('model', 'Model', models, model), h('button', { type: 'submit' }, 'Show'));
  const holder = h('div', { id: 'grid' }, h('p', { class: 'muted' }, 'Loading…'));
  show(form, h('p', { class: 'muted' }, 'Each line is one role (inheritance applied) or set with a rule on the model, on its own; a user holding several gets the union. Open a cell to explain it.'), holder);
  let answer;
  try { answer = await api('GET', `/api/rules/grid?model=${seg(model)}`); } catch (e) { holder.replaceChildren(failure(e)); return; }
  const rights = ['create', 'read', 'update', 'delete'];
  if (!answer.subjects.length) { holder.replaceChildren(empty('No rule row on this model.')); return; }
  holder.replaceChildren(answer.truncated
    ? h('p', { class: 'notice' }, `The first ${answer.subjects.length} of ${answer.total} lines.`) : '', table(['Who', ...rights], answer.subjects.map((s) => h('tr', {},
    h('td', {}, h('span', { class: 'muted' }, `${s.set_type} `), h('strong', {}, s.set_value), s.absolute_rights ? [' ', badge('absolute', 'all')] : null),
    rights.map((right) => {
      const cell = s.rights[right];
      const link = url('/console/explain', { sets: `${s.set_type}=${s.set_value}`, model, action: right });
      const title = cell.filter
        ? cell.filter + (cell.depends_on_subject ? ' (rows depend on the user: explain with attributes)' : '')
        : cell.access;
      return h('td', {}, h('a', { href: link, title }, badge(cell.access)));
    }))), { class: 'matrix', id: 'grid-table' }));
}

/** The rule history: every recorded change of the rule tables, newest first. */
async function historyPage() {
  const q = query();
  let models;
  try { models = await loadModels(); } catch (e) { show(failure(e)); return; }
  const form = h('form', { class: 'row panel', method: 'get', role: 'search', id: 'history-filters' },
    select('model', 'Model', [['', 'every change'], ...models], q.get('model') || ''),
    h('label', { for: 'since' }, h('span', {}, 'Since'),
      h('input', { id: 'since', name: 'since', type: 'date', value: q.get('since') || '' })),
    h('button', { type: 'submit' }, 'Show'));
  const out = h('div', { role: 'status', 'aria-live': 'polite' });
  const list = h('div', { id: 'history-list' }, h('p', { class: 'muted' }, 'Loading…'));
  show(form, out, list);
  const params = new URLSearchParams({ limit: 200 });
  if (q.get('model')) params.set('model', q.get('model'));
  const since = q.get('since') ? new Date(`${q.get('since')}T00:00:00Z`) : null;
  if (since && Number.isNaN(since.getTime())) { list.replaceChildren(failure(new Error('"Since" must be a date.'))); return; }
  if (since) params.set('since', since.toISOString());
  let entries;
  try { entries = await api('GET', `/api/rules/history?${params}`); } catch (e) { list.replaceChildren(failure(e)); return; }
  if (!entries.length) { list.replaceChildren(empty('No recorded change matches.')); return; }
  const shown = (e, row) => (row == null ? ''
    : JSON.stringify(e.rule ? row.rules : e.policy ? row.policy : row));
  list.replaceChildren(table(['#', 'When', 'Change', 'What', 'By', 'Before', 'After', ''], entries.map((e) => {
    const what = e.rule ? `rule ${e.rule.set_type} "${e.rule.set_value}" on ${e.rule.model}`
      : e.policy ? `policy ${e.policy.set_type} "${e.policy.set_value}"` : `${e.table} ${e.key}`;
    const by = [e.app_user, e.db_user ? `db ${e.db_user}` : null].filter(Boolean).join(', ')
      || 'direct SQL';
    let restore = null;
    if ((e.rule && can('rules.write')) || (e.policy && can('rules.write') && can('policies.write'))) {
      restore = h('button', { type: 'button', class: 'quiet', 'data-restore': e.id }, 'Restore');
      restore.addEventListener('click', busy(restore, async () => {
        out.replaceChildren();
        if (!window.confirm(`Put ${what} back as change #${e.id} recorded it?`)) return;
        try {
          const answer = await api('POST', `/api/rules/history/${e.id}/restore`);
          out.append(h('p', { class: 'success', id: 'restored' }, `Restored ${what}: ${JSON.stringify(answer.policy ?? answer.rules)}`));
        } catch (err) { out.append(failure(err)); }
      }));
    }
    return h('tr', { 'data-entry': e.id },
      h('td', { class: 'num' }, e.id),
      h('td', {}, when(e.changed_at)),
      h('td', {}, badge(e.operation, e.operation === 'delete' ? 'none' : e.operation === 'insert' ? 'all' : 'some')),
      h('td', {}, what),
      h('td', {}, by),
      h('td', {}, h('code', {}, shown(e, e.before))),
      h('td', {}, h('code', {}, shown(e, e.after))),
      h('td', {}, restore));
  }), { id: 'history-table' }));
}

// ---- permissions and users ------------------------------------------------------------

async function permissionsPage() {
  let data;
  try { data = await api('GET', '/api/permissions'); } catch (e) { show(failure(e)); return; }
  const roles = data.roles;
  const names = Object.keys(data.permissions);
  const cell = (role, permission) => {
    if ((role.permissions || []).includes(permission)) return badge('direct');
    if (role.all_permissions) return badge('*', 'wildcard');
    if ((data.matrix[permission] || []).includes(role.name)) return badge('inherited');
    return h('span', { class: 'muted', 'aria-label': 'no' }, '·');
  };
  show(
    h('p', { class: 'muted' }, 'direct: granted to the role; inherited: through a role it inherits; *: every permission.'),
    table(['Permission', ...roles.map((r) => r.name)], names.map((p) => h('tr', {},
      h('th', { scope: 'row', title: data.permissions[p] || '' }, h('code', {}, p)),
      roles.map((r) => h('td', {}, cell(r, p))))), { class: 'matrix', id: 'matrix' }),
    h('h2', {}, 'Roles'),
    table(['Role', 'Inherits', 'Description'], roles.map((r) => h('tr', {},
      h('td', {}, h('strong', {}, r.name)),
      h('td', {}, (r.inherits || []).join(', ') || '—'),
      h('td', {}, r.description || '')))));
}

async function usersPage() {
  const out = h('div', { role: 'status', 'aria-live': 'polite', id: 'users-out' });
  const list = h('div', { id: 'user-list' });
  const name = h('input', { id: 'u-name', required: true, autocomplete: 'off' });
  const password = h('input', { id: 'u-password', type: 'password', required: true, autocomplete: 'new-password' });
  const roles = h('input', { id: 'u-roles', placeholder: 'support, devops' });
  const add = h('button', { type: 'submit' }, 'Add user');
  const form = h('form', { class: 'row panel', id: 'add-user' },
    h('label', { for: 'u-name' }, h('span', {}, 'Name'), name),
    h('label', { for: 'u-password' }, h('span', {}, 'Password'), password),
    h('label', { for: 'u-roles' }, h('span', {}, 'Roles (comma-separated)'), roles), add);
  const roleList = (text) => text.split(',').map((r) => r.trim()).filter(Boolean);
  form.addEventListener('submit', busy(add, async () => {
    out.replaceChildren();
    try {
      await api('POST', '/api/users', { name: name.value.trim(), password: password.value, roles: roleList(roles.value) });
      out.append(h('p', { class: 'success' }, `User ${name.value.trim()} added.`));
      name.value = ''; password.value = ''; roles.value = '';
      await reload();
    } catch (e) { out.append(failure(e)); }
  }));
  show(h('h2', {}, 'Add a user'), form, out, h('h2', {}, 'Users'), list);

  async function act(label, action) {
    out.replaceChildren();
    try { await action(); out.append(h('p', { class: 'success' }, label)); await reload(); } catch (e) { out.append(failure(e)); }
  }

  async function reload() {
    let users;
    try { users = await api('GET', '/api/users'); } catch (e) { list.replaceChildren(failure(e)); return; }
    if (!users.length) { list.replaceChildren(empty('No user yet.')); return; }
    list.replaceChildren(table(['Name', 'Roles', 'State', 'Sessions', 'Actions'], users.map((u) => {
      const roleInput = h('input', { value: u.roles.join(', '), 'aria-label': `Roles of ${u.name}` });
      const setRoles = h('button', { type: 'button', class: 'quiet' }, 'Set roles');
      setRoles.addEventListener('click', busy(setRoles, () => act(`Roles of ${u.name} set.`,
        () => api('PUT', `/api/users/${seg(u.name)}/roles`, { roles: roleList(roleInput.value) }))));
      const lock = h('button', { type: 'button', class: 'quiet' }, u.locked ? 'Unlock' : 'Lock');
      lock.addEventListener('click', busy(lock, () => act(`${u.name} ${u.locked ? 'unlocked' : 'locked'}.`,
        () => api('POST', `/api/users/${seg(u.name)}/${u.locked ? 'unlock' : 'lock'}`))));
      const newPassword = h('input', { type: 'password', autocomplete: 'new-password', 'aria-label': `New password of ${u.name}`, placeholder: 'new password' });
      const setPassword = h('button', { type: 'button', class: 'quiet' }, 'Set password');
      setPassword.addEventListener('click', busy(setPassword, () => act(`Password of ${u.name} set; their sessions ended.`,
        () => api('POST', `/api/users/${seg(u.name)}/password`, { password: newPassword.value }))));
      return h('tr', { 'data-user': u.name },
        h('td', {}, h('strong', {}, u.name)),
        h('td', {}, h('div', { class: 'row' }, roleInput, setRoles),
          (u.missing_roles || []).length ? h('div', { class: 'hint bad' }, `unknown roles: ${u.missing_roles.join(', ')}`) : null),
        h('td', {}, u.locked ? badge('locked') : badge('active', 'valid')),
        h('td', { class: 'num' }, u.active_tokens),
        h('td', {}, h('div', { class: 'row' }, lock, newPassword, setPassword)));
    })));
  }
  await reload();
}

// ---- start ----------------------------------------------------------------------------

const PAGES = {
  login: loginPage,
  password: passwordPage,
  jobs: jobsPage,
  job: jobPage,
  rules: rulesPage,
  policies: policiesPage,
  explain: explainPage,
  grid: gridPage,
  history: historyPage,
  permissions: permissionsPage,
  users: usersPage,
};

document.addEventListener('DOMContentLoaded', () => {
  logoutButton();
  const run = PAGES[page.page];
  if (run) {
    Promise.resolve(run()).catch((e) => show(failure(e)));
  }
});
