// dtxd's admin page: reads dtxd's own API (/api/dtmsvr/*, /metrics) with the token
// given in the page, and writes every value as text (never as HTML).
'use strict';

const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem('dtx-token') || '';
let nextPosition = '';
let openGid = '';

function headers(extra) {
  const h = Object.assign({}, extra);
  if (token) h['Authorization'] = 'Bearer ' + token;
  return h;
}

function showError(message) {
  const e = $('error');
  e.textContent = message;
  e.hidden = !message;
}

// GET or POST on dtxd's API; resolves with the JSON (or text) answer, rejects with
// the server's message.
async function api(path, post) {
  const init = post === undefined ? {headers: headers()} : {
    method: 'POST',
    headers: headers({'Content-Type': 'application/json'}),
    body: JSON.stringify(post)
  };
  const res = await fetch(path, init);
  const text = await res.text();
  if (res.status === 401) throw new Error('dtxd wants a token: enter it above');
  let body = text;
  try {
    body = JSON.parse(text);
  } catch (e) { /* /metrics is text */
  }
  if (!res.ok) {
    throw new Error(
        'HTTP ' + res.status + ': ' + (body && body.message ? body.message : text));
  }
  return body;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text === undefined || text === null ? '' : String(text);
  if (className) td.className = className;
  return td;
}

function shortTime(t) {
  return t ? t.replace('T', ' ').slice(0, 19) : '';
}

function gidLink(td, gid) {
  td.textContent = '';
  const a = document.createElement('a');
  a.textContent = gid;
  a.href = '?gid=' + encodeURIComponent(gid);
  a.addEventListener('click', (e) => {
    e.preventDefault();
    showDetail(gid);
  });
  td.appendChild(a);
}

// The sum of the samples of `name` whose labels contain `match`.
function sum(metrics, name, match) {
  let total = 0;
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (match && !line.includes(match)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  }
  return total;
}

async function loadCounts() {
  const m = await api('/metrics');
  const counts = {
    'count-unfinished': sum(m, 'dtx_transactions_unfinished'),
    'count-stuck': sum(m, 'dtx_transactions_stuck'),
    'count-started': sum(m, 'dtx_transactions_started_total'),
    'count-succeeded': sum(m, 'dtx_transactions_finished_total', '"succeed"'),
    'count-failed': sum(m, 'dtx_transactions_finished_total', '"failed"'),
    'count-calls': sum(m, 'dtx_branch_calls_total'),
    'count-call-errors': sum(m, 'dtx_branch_calls_total', 'result="error"'),
  };
  for (const [id, n] of Object.entries(counts)) {
    $(id).textContent = String(n);
    if (n === 0)
      $(id).setAttribute('data-zero', '');
    else
      $(id).removeAttribute('data-zero');
  }
}

async function operate(route, gid, done) {
  try {
    await api('/api/dtmsvr/' + route, {gid: gid});
    showError('');
    await refresh();
    if (openGid === gid) await showDetail(gid);
  } catch (e) {
    showError(gid + ': ' + e.message);
  }
}

function actionButtons(container, gid) {
  const retry = document.createElement('button');
  retry.textContent = 'Retry now';
  retry.className = 'retry';
  retry.addEventListener('click', () => operate('resetNextCronTime', gid));
  const stop = document.createElement('button');
  stop.textContent = 'Force stop';
  stop.className = 'danger stop';
  stop.addEventListener('click', () => {
    if (confirm('End ' + gid + ' as failed now, without compensating?')) {
      operate('forceStop', gid);
    }
  });
  container.append(retry, ' ', stop);
}

// A row of `body` for transaction `t`: its gid (a link), type, status and creation,
// then one cell per value of `rest` (a [text, class] pair, or text); returns the row.
function transactionRow(body, t, rest) {
  const row = body.insertRow();
  row.dataset.gid = t.gid;
  gidLink(cell(row), t.gid);
  cell(row, t.trans_type);
  cell(row, t.status, 'status-' + t.status);
  cell(row, shortTime(t.create_time));
  for (const value of rest) {
    if (Array.isArray(value)) cell(row, value[0], value[1]); else cell(row, value);
  }
  return row;
}

async function loadStuck() {
  const age = Math.max(0, Number($('stuck-age').value) || 0);
  const answer = await api('/api/dtmsvr/stuck?limit=100&older_than=' + age);
  const body = $('stuck').tBodies[0];
  body.textContent = '';
  for (const t of answer.transactions || []) {
    const row = transactionRow(
        body, t,
        [t.retry_count || 0, shortTime(t.next_cron_time), [t.result, 'error']]);
    actionButtons(cell(row), t.gid);
  }
}

async function loadList(more) {
  const params = new URLSearchParams({limit: '50'});
  if ($('status').value) params.set('status', $('status').value);
  if ($('type').value) params.set('transType', $('type').value);
  if ($('gid').value.trim()) params.set('gid', $('gid').value.trim());
  if (more && nextPosition) params.set('position', nextPosition);
  const answer = await api('/api/dtmsvr/all?' + params.toString());
  const body = $('transactions').tBodies[0];
  if (!more) body.textContent = '';
  for (const t of answer.transactions || []) {
    transactionRow(
        body, t, [shortTime(t.finish_time), t.retry_count || 0, [t.result, 'error']]);
  }
  nextPosition = answer.next_position || '';
  $('older').hidden = !nextPosition;
}

async function showDetail(gid) {
  openGid = gid;
  const answer = await api('/api/dtmsvr/query?gid=' + encodeURIComponent(gid));
  const section = $('detail');
  section.hidden = false;
  $('detail-gid').textContent = gid;
  const fields = $('detail-fields');
  fields.textContent = '';
  const actions = $('detail-actions');
  actions.textContent = '';
  const timeline = $('timeline');
  timeline.textContent = '';
  const t = answer.transaction;
  if (!t) {
    const dd = document.createElement('dd');
    dd.textContent = 'no such transaction';
    fields.append(dd);
    return;
  }
  const shown = [
    ['type', t.trans_type], ['status', t.status], ['protocol', t.protocol],
    ['created', t.create_time], ['updated', t.update_time], ['finished', t.finish_time],
    ['rollback reason', t.rollback_reason], ['retries', t.retry_count],
    ['next attempt', t.next_cron_time], ['owner', t.owner], ['last error', t.result]
  ];
  for (const [name, value] of shown) {
    if (value === undefined || value === null || value === '') continue;
    const dt = document.createElement('dt');
    dt.textContent = name;
    const dd = document.createElement('dd');
    dd.textContent = String(value);
    dd.dataset.field = name;
    fields.append(dt, dd);
  }
  if (t.status !== 'succeed' && t.status !== 'failed') actionButtons(actions, gid);
  // Branches in the order they last changed: the transaction's story.
  const branches =
      (answer.branches || [])
          .slice()
          .sort(
              (a, b) => (a.update_time || '').localeCompare(b.update_time || '') ||
                  (a.id || 0) - (b.id || 0));
  for (const b of branches) {
    const li = document.createElement('li');
    li.dataset.branch = b.branch_id + ':' + b.op;
    const when = document.createElement('span');
    when.className = 'when';
    when.textContent = shortTime(b.update_time);
    const what = document.createElement('strong');
    what.textContent = b.branch_id + ' ' + b.op + ' ';
    const status = document.createElement('span');
    status.className = 'status-' + b.status;
    // A branch row keeps its outcome only; the last error of a call is the
    // transaction's (last error, above).
    status.textContent = b.status === 'prepared' ? 'pending' :
        b.status === 'succeed'                   ? 'succeeded' :
                                                   'answered FAILURE';
    const url = document.createElement('div');
    url.className = 'url';
    url.textContent = b.url || '(no URL: nothing to call)';
    li.append(when, what, status, url);
    timeline.append(li);
  }
}

async function refresh() {
  try {
    await Promise.all([loadCounts(), loadStuck(), loadList(false)]);
    showError('');
  } catch (e) {
    showError(e.message);
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('token').value = token;
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    token = $('token').value.trim();
    sessionStorage.setItem('dtx-token', token);
    refresh();
  });
  $('filters').addEventListener('submit', (e) => {
    e.preventDefault();
    loadList(false).catch((x) => showError(x.message));
  });
  $('stuck-age')
      .addEventListener('change', () => loadStuck().catch((x) => showError(x.message)));
  $('older').addEventListener(
      'click', () => loadList(true).catch((x) => showError(x.message)));
  const query = new URLSearchParams(location.search);
  if (query.get('status')) $('status').value = query.get('status');
  if (query.get('type')) $('type').value = query.get('type');
  if (query.get('stuck_age')) $('stuck-age').value = query.get('stuck_age');
  const gid = query.get('gid');
  const first = [refresh()];
  if (gid) first.push(showDetail(gid).catch((x) => showError(x.message)));
  Promise.all(first).then(() => document.body.setAttribute('data-loaded', 'true'));
  setInterval(() => {
    if (!$('auto').checked) return;
    refresh();
    if (openGid) showDetail(openGid).catch(() => {});
  }, 5000);
});
