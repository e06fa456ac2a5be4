// The web console: polls /api/state (the daemon's own QMP queries) twice a second, keeps a short
// history per job in the page, and draws it. Nothing is loaded from anywhere but this server.
'use strict';

const POLL_MS = 500;
const HISTORY = 240; // samples per job: two minutes at POLL_MS

// Everything the page knows; also read by the browser test (window.converge).
const consoleState = {
  samples: 0,        // state answers received
  failures: 0,       // polls that failed
  control: false,    // whether the daemon runs with --http-control
  last: null,        // the newest /api/state answer
  history: {},       // job id -> [{t, done, total, rate, dirty, bandwidth, remaining, expected, limit}]
  selected: null,    // the job whose plots are shown
  plotted: {},       // chart id -> points drawn last time
};
window.converge = consoleState;

const $ = (id) => document.getElementById(id);

function bytes(n) {
  if (n === undefined || n === null || Number.isNaN(n)) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n.toFixed(0) : n.toFixed(1)) + ' ' + units[i];
}

function seconds(s) {
  if (!Number.isFinite(s) || s < 0) return '–';
  if (s < 60) return s.toFixed(0) + ' s';
  return Math.floor(s / 60) + ' min ' + Math.round(s % 60) + ' s';
}

async function poll() {
  try {
    const r = await fetch('/api/state', { cache: 'no-store' });
    if (!r.ok) throw new Error('HTTP ' + r.status);
    update(await r.json());
  } catch (e) {
    consoleState.failures++;
    $('daemon').textContent = 'daemon unreachable (' + e.message + '); retrying';
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

function update(s) {
  consoleState.last = s;
  consoleState.samples++;
  consoleState.control = s.control;
  document.body.classList.toggle('with-control', s.control);
  const run = s['query-status'] ? ', guest ' + s['query-status'].status : '';
  $('daemon').textContent = 'converged ' + s.version + run;
  $('mode').textContent = s.control ? 'controls on' : 'read-only';
  const jobs = s['query-jobs'] || [];
  const migrate = s['query-migrate'] || {};
  const params = s['query-migrate-parameters'] || {};
  for (const job of jobs) record(job, s['time-ms'], migrate, params);
  for (const id of Object.keys(consoleState.history)) {
    if (!jobs.some((j) => j.id === id)) delete consoleState.history[id];
  }
  if (!jobs.some((j) => j.id === consoleState.selected)) {
    const active = jobs.find((j) => !['concluded', 'null'].includes(j.status)) || jobs[0];
    consoleState.selected = active ? active.id : null;
  }
  renderTable(jobs);
  renderDetail(jobs.find((j) => j.id === consoleState.selected), params);
}

// Adds one sample to the job's history; the rate is the progress made since the previous sample.
function record(job, t, migrate, params) {
  const h = consoleState.history[job.id] || (consoleState.history[job.id] = []);
  const prev = h[h.length - 1];
  const done = job['current-progress'];
  const total = job['total-progress'];
  let rate = prev && t > prev.t ? Math.max(0, (done - prev.done) * 1000 / (t - prev.t)) : NaN;
  if (Number.isNaN(rate) && prev) rate = prev.rate;
  const isMigration = job.type === 'migration';
  const ram = migrate.ram || {};
  // query-migrate's mbps is the link's measured throughput (megabits/s); the progress rate
  // stands in before it is known, and for every other job type.
  const bandwidth = isMigration && ram.mbps > 0 ? ram.mbps * 1e6 / 8 : rate;
  h.push({
    t, done, total, rate,
    dirty: isMigration ? job['dirty-rate'] : undefined,
    bandwidth,
    remaining: isMigration && job.remaining !== undefined ? job.remaining : Math.max(0, total - done),
    expected: isMigration ? job['expected-downtime'] : undefined,
    limit: isMigration ? params['downtime-limit'] : undefined,
  });
  if (h.length > HISTORY) h.shift();
}

function renderTable(jobs) {
  const body = document.querySelector('#jobs tbody');
  body.replaceChildren();
  $('nojobs').hidden = jobs.length > 0;
  for (const job of jobs) {
    const h = consoleState.history[job.id];
    const last = h[h.length - 1];
    const tr = document.createElement('tr');
    tr.dataset.job = job.id;
    tr.dataset.status = job.status;
    if (job.id === consoleState.selected) tr.classList.add('selected');
    tr.addEventListener('click', () => { consoleState.selected = job.id; update(consoleState.last); });
    const pct = job['total-progress'] > 0 ? Math.min(100, 100 * job['current-progress'] / job['total-progress']) : 0;
    // A migration's progress moves in steps (per pass): its rate is the link's measured throughput.
    const rate = job.type === 'migration' ? last.bandwidth : last.rate;
    const eta = rate > 0 ? (job['total-progress'] - job['current-progress']) / rate : NaN;
    const cells = [
      text(job.id), text(job.type), text(job.status, 'status-' + job.status),
      progress(pct), text(bytes(rate) + '/s'), text(seconds(eta)), text(details(job)),
    ];
    cells.forEach((c) => tr.appendChild(c));
    const actions = document.createElement('td');
    actions.className = 'control';
    for (const [action, label] of verbsFor(job)) {
      const b = document.createElement('button');
      b.textContent = label;
      b.dataset.action = action;
      b.dataset.job = job.id;
      b.addEventListener('click', (e) => { e.stopPropagation(); jobVerb(action, job.id); });
      actions.appendChild(b);
    }
    tr.appendChild(actions);
    body.appendChild(tr);
  }
}

function text(t, cls) {
  const td = document.createElement('td');
  td.textContent = t;
  if (cls) td.className = cls;
  return td;
}

function progress(pct) {
  const td = document.createElement('td');
  const bar = document.createElement('span');
  bar.className = 'bar';
  const fill = document.createElement('span');
  fill.style.width = pct.toFixed(1) + '%';
  bar.appendChild(fill);
  td.appendChild(bar);
  td.appendChild(document.createTextNode(pct.toFixed(1) + ' %'));
  return td;
}

function details(job) {
  if (job.type !== 'migration') return job.error ? 'error: ' + job.error : '';
  const parts = ['pass ' + job.pass, 'dirty ' + bytes(job['dirty-rate']) + '/s', 'remaining ' + bytes(job.remaining)];
  if (job['expected-downtime'] !== undefined) parts.push('expected downtime ' + job['expected-downtime'] + ' ms');
  if (job['cpu-throttle-percentage'] !== undefined) parts.push('throttle ' + job['cpu-throttle-percentage'] + ' %');
  if (job.error) parts.push('error: ' + job.error);
  return parts.join(', ');
}

// The verbs QEMU's job state machine allows in each status (qapi/job.json's table).
const VERBS = {
  running: [['job-pause', 'pause'], ['job-cancel', 'cancel']],
  ready: [['job-complete', 'complete'], ['job-pause', 'pause'], ['job-cancel', 'cancel']],
  paused: [['job-resume', 'resume'], ['job-cancel', 'cancel']],
  standby: [['job-resume', 'resume'], ['job-cancel', 'cancel']],
  pending: [['job-finalize', 'finalize'], ['job-cancel', 'cancel']],
  concluded: [['job-dismiss', 'dismiss']],
};

function verbsFor(job) {
  return VERBS[job.status] || [];
}

function jobVerb(action, id) {
  if (!window.confirm(action + ' job ' + id + '?')) return;
  command({ execute: action, arguments: { id } });
}

async function command(request) {
  const msg = $('message');
  try {
    const r = await fetch('/api/command', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Converge-Console': '1' },
      body: JSON.stringify(request),
    });
    const reply = await r.json();
    if (reply.error) {
      msg.textContent = request.execute + ': ' + reply.error.desc;
      msg.className = 'error';
    } else {
      msg.textContent = request.execute + ': done';
      msg.className = '';
    }
  } catch (e) {
    msg.textContent = request.execute + ': ' + e.message;
    msg.className = 'error';
  }
}

function renderDetail(job, params) {
  $('detail').hidden = !job;
  if (!job) return;
  $('detail-id').textContent = job.id + ' (' + job.type + ')';
  const h = consoleState.history[job.id];
  const migration = job.type === 'migration';
  draw('chart-rates', h, migration
    ? [{ key: 'dirty', color: '#d1432f' }, { key: 'bandwidth', color: '#3a7bd5' }]
    : [{ key: 'rate', color: '#3a7bd5' }]);
  draw('chart-remaining', h, [{ key: 'remaining', color: '#7b4fd6' }]);
  $('fig-downtime').hidden = !migration;
  if (migration) draw('chart-downtime', h, [{ key: 'expected', color: '#e08a00' }, { key: 'limit', color: '#1d2330', dashed: true }]);
  verdict(job, h[h.length - 1]);
  const knobs = $('knobs');
  knobs.hidden = !migration || !consoleState.control;
  if (migration && document.activeElement.tagName !== 'INPUT') {
    $('knob-downtime').value = params['downtime-limit'] ?? '';
    $('knob-bandwidth').value = params['max-bandwidth'] !== undefined ? Math.round(params['max-bandwidth'] / 1048576) : '';
  }
}

// The sentence an operator needs: will it converge, and if not, which knob to turn.
function verdict(job, last) {
  const v = $('verdict');
  v.className = '';
  if (job.type !== 'migration') {
    v.textContent = job.status === 'ready' ? 'Ready: job-complete switches over.' : '';
    return;
  }
  if (['concluded', 'null'].includes(job.status)) {
    v.textContent = job.error ? 'Failed: ' + job.error : 'Finished.';
    return;
  }
  if (job.converged) {
    v.textContent = 'Converging: the remainder fits the downtime limit'
      + (job.status === 'ready' ? '; job-complete switches over now.' : '.');
    v.className = 'good';
    return;
  }
  // Each pass resends what the guest dirtied during the last one, so a pass is (dirty rate ÷
  // bandwidth) times the size of the one before: near 1 the remainder never shrinks. (When the
  // guest rewrites all of its memory every pass the measured rate saturates at the bandwidth.)
  const ratio = last.dirty > 0 && last.bandwidth > 0 ? last.dirty / last.bandwidth : 0;
  if (ratio >= 0.9) {
    v.textContent = 'Not converging: the guest dirties ' + bytes(last.dirty) + '/s, the link carries '
      + bytes(last.bandwidth) + '/s. Raise max-bandwidth, raise downtime-limit, enable auto-converge, or start postcopy.';
    v.className = 'bad';
    return;
  }
  if (ratio >= 0.5) {
    v.textContent = 'Converging slowly: each pass is only ' + Math.round(100 * (1 - ratio))
      + ' % smaller than the last (dirty ' + bytes(last.dirty) + '/s, link ' + bytes(last.bandwidth)
      + '/s). More max-bandwidth or a larger downtime-limit would help.';
    return;
  }
  v.textContent = 'Copying: the remainder does not fit the downtime limit yet.';
}

// A line chart of the history: one line per series, scaled to the largest value shown.
function draw(id, h, series) {
  const canvas = $(id);
  const g = canvas.getContext('2d');
  const w = canvas.width;
  const ht = canvas.height;
  const pad = { l: 70, r: 10, t: 10, b: 20 };
  g.clearRect(0, 0, w, ht);
  let max = 0;
  for (const s of series) for (const p of h) if (Number.isFinite(p[s.key])) max = Math.max(max, p[s.key]);
  max = max > 0 ? max * 1.1 : 1;
  g.strokeStyle = '#e2e5ea';
  g.fillStyle = '#5b6270';
  g.font = '11px system-ui, sans-serif';
  for (let i = 0; i <= 4; i++) {
    const y = pad.t + (ht - pad.t - pad.b) * i / 4;
    g.beginPath(); g.moveTo(pad.l, y); g.lineTo(w - pad.r, y); g.stroke();
    const value = max * (4 - i) / 4;
    g.fillText(id === 'chart-downtime' ? value.toFixed(0) : bytes(value), 4, y + 4);
  }
  // The x axis spans the samples there are (up to HISTORY): a young job fills the chart too.
  const span = h.length > 1 ? (h[h.length - 1].t - h[0].t) / 1000 : 0;
  g.fillText(seconds(span) + ' ago', pad.l, ht - 4);
  g.fillText('now', w - pad.r - 24, ht - 4);
  let points = 0;
  for (const s of series) {
    g.strokeStyle = s.color;
    g.lineWidth = 2;
    g.setLineDash(s.dashed ? [6, 4] : []);
    g.beginPath();
    let started = false;
    h.forEach((p, i) => {
      const value = p[s.key];
      if (!Number.isFinite(value)) { started = false; return; }
      const x = pad.l + (w - pad.l - pad.r) * (h.length > 1 ? i / (h.length - 1) : 1);
      const y = pad.t + (ht - pad.t - pad.b) * (1 - value / max);
      if (started) g.lineTo(x, y); else g.moveTo(x, y);
      started = true;
      points++;
    });
    g.stroke();
  }
  g.setLineDash([]);
  consoleState.plotted[id] = points;
}

function changeKnobs(e) {
  e.preventDefault();
  const id = consoleState.selected;
  const args = { id, type: 'migration' };
  const downtime = $('knob-downtime').value;
  const bandwidth = $('knob-bandwidth').value;
  if (downtime !== '') args['downtime-limit'] = Number(downtime);
  if (bandwidth !== '') args['max-bandwidth'] = Number(bandwidth) * 1048576;
  if (!window.confirm('Change job ' + id + ': ' + JSON.stringify(args) + '?')) return;
  command({ execute: 'job-change', arguments: args });
}

function startPostcopy() {
  if (!window.confirm('Switch the migration to postcopy? The guest then runs on the destination at once.')) return;
  command({ execute: 'migrate-start-postcopy', arguments: {} });
}

document.addEventListener('DOMContentLoaded', () => {
  $('knobs').addEventListener('submit', changeKnobs);
  document.querySelector('[data-action=postcopy]').addEventListener('click', startPostcopy);
  poll();
});
