// memproxy dashboard. Hand-written, no libraries: it reads the usage and
// memory APIs with the key kept in sessionStorage and draws the charts as
// inline SVG. Every value from the APIs goes into the page as text
// (textContent, text nodes, attributes), never as HTML.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const SVG = 'http://www.w3.org/2000/svg';
  const KEY = 'memproxy.dashboard.key';
  const PALETTE = ['#4269d0', '#efb118', '#ff725c', '#6cc5b0', '#3ca951', '#ff8ab7'];
  const OTHER = '\u0000other'; // series key of everything beyond the top ones
  const OTHER_COLOR = '#b4b9c3';
  // Columns the recent-requests table shows when some row has a value
  // (not 0 or empty) for them.
  const OPTIONAL = [['memory_status', 'Memory'], ['memories', 'Memories'], ['tool_rounds', 'Tool rounds'],
    ['tools_called', 'Tools'], ['session_id', 'Session'], ['error_type', 'Error']];

  // --- DOM helpers -------------------------------------------------------

  function attrs(e, a) {
    for (const [k, v] of Object.entries(a || {})) {
      if (v !== undefined && v !== null && v !== false) e.setAttribute(k, String(v));
    }
  }
  function kids(e, list) {
    for (const k of list.flat()) {
      if (k !== undefined && k !== null) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return e;
  }
  function el(tag, a, ...c) { const e = document.createElement(tag); attrs(e, a); return kids(e, c); }
  function sv(tag, a, ...c) { const e = document.createElementNS(SVG, tag); attrs(e, a); return kids(e, c); }
  function fill(target, ...c) { target.replaceChildren(); kids(target, c); }

  // --- formatting --------------------------------------------------------

  const intFmt = new Intl.NumberFormat('en-US');
  const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
  const int = (n) => intFmt.format(n || 0);
  const trim = (s) => (s.includes('.') ? s.replace(/\.?0+$/, '') : s);
  const money = (v) => '$' + (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : trim(v.toFixed(4)));
  const ms = (v) => (v >= 1000 ? trim((v / 1000).toFixed(2)) + ' s' : v >= 10 ? Math.round(v) + ' ms' : trim(v.toFixed(2)) + ' ms');
  const name = (s) => (s === '' ? '(none)' : s === OTHER ? 'other' : s);
  function utc(t, bucket) {
    const iso = new Date(t).toISOString();
    return bucket === 'day' ? iso.slice(0, 10) : iso.slice(5, 10) + ' ' + iso.slice(11, 16);
  }

  // --- key and API -------------------------------------------------------

  // A key in the fragment (#key=…) is moved to sessionStorage and the
  // fragment cleared, so it stays out of history and bookmarks. user= and
  // project= there fill in the memory browser's scope.
  function takeFragment() {
    const f = new URLSearchParams(location.hash.slice(1));
    if (f.get('key')) sessionStorage.setItem(KEY, f.get('key'));
    if (f.get('user')) $('mem-user').value = f.get('user');
    if (f.get('project')) $('mem-project').value = f.get('project');
    if (f.get('superseded') === '1') $('mem-all').checked = true;
    if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  }
  const key = () => sessionStorage.getItem(KEY) || '';

  async function api(path, opts = {}) {
    const headers = Object.assign({ Authorization: 'Bearer ' + key() }, opts.headers || {});
    const init = { method: opts.method || 'GET', headers, cache: 'no-store', credentials: 'omit' };
    if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(opts.body);
    }
    const resp = await fetch(path, init);
    let body = null;
    try { body = await resp.json(); } catch (_) { /* not JSON */ }
    if (!resp.ok) {
      const e = new Error((body && body.error && body.error.message) || resp.status + ' ' + resp.statusText);
      e.status = resp.status;
      throw e;
    }
    return body;
  }

  function say(text, kind) {
    const m = $('message');
    m.textContent = text || '';
    m.className = 'message' + (text && kind ? ' ' + kind : '');
  }

  // --- the usage views -----------------------------------------------------

  async function refresh() {
    if (!key()) {
      say('Enter a key: the master key shows everything, a user key its own usage.', 'info');
      return;
    }
    const bucket = $('bucket').value, group = $('group').value;
    const base = new URLSearchParams({ since: $('range').value });
    const project = $('f-project').value.trim();
    if (project) base.set('project', project);
    const gp = new URLSearchParams(base);
    gp.set('group_by', bucket + ',' + group);
    gp.set('limit', '10000');
    const rp = new URLSearchParams(base);
    rp.set('limit', '50');
    if ($('only-errors').checked) rp.set('status', 'error');
    try {
      const [groups, summary, recent] = await Promise.all([
        api('/v1/usage?' + gp), api('/v1/usage/summary?' + base), api('/v1/usage?' + rp)]);
      say(groups.has_more ? 'The charts show the first 10,000 groups only: choose day buckets or a shorter range.' : '', 'info');
      totals(summary.totals);
      charts(groups, bucket, group);
      tops(summary);
      recentTable(recent.data);
      $('updated').textContent = 'updated ' + new Date().toISOString().slice(11, 19) + ' UTC';
    } catch (e) {
      say(e.status === 401 ? 'The key was refused: ' + e.message : 'Could not load usage: ' + e.message, 'error');
    }
  }

  function totals(t) {
    const card = (label, value, note) => el('div', { class: 'card' },
      el('div', { class: 'label' }, label), el('div', { class: 'value' }, value), note ? el('div', { class: 'note' }, note) : null);
    const errPct = t.requests ? ' (' + (100 * t.errors / t.requests).toFixed(1) + ' %)' : '';
    fill($('totals'),
      card('Requests', int(t.requests)),
      card('Errors', int(t.errors) + errPct),
      card('Tokens', compact.format(t.prompt_tokens + t.completion_tokens),
        int(t.prompt_tokens) + ' in · ' + int(t.completion_tokens) + ' out · ' + int(t.cached_tokens) + ' cached'),
      card('Cost', money(t.cost), t.unpriced ? int(t.unpriced) + ' unpriced' : 'all priced'),
      card('Latency p50', ms(t.latency_p50_ms), 'first byte ' + ms(t.ttfb_p50_ms)),
      card('Latency p95', ms(t.latency_p95_ms)));
  }

  // charts draws the four charts from one grouped query: the top series
  // by requests get colours, the rest are summed into "other" (whose
  // percentiles cannot be summed, so it has no latency line).
  function charts(resp, bucket, group) {
    const rows = resp.data || [];
    const step = bucket === 'day' ? 86400e3 : 3600e3;
    const until = resp.until ? Date.parse(resp.until) : Date.now();
    let since = resp.since ? Date.parse(resp.since) : until;
    for (const r of rows) since = Math.min(since, Date.parse(r.bucket));
    const buckets = [];
    for (let t = Math.floor(since / step) * step; t <= until; t += step) buckets.push(t);

    const byName = new Map();
    for (const r of rows) byName.set(r[group], (byName.get(r[group]) || 0) + r.requests);
    const names = [...byName.keys()].sort((a, b) => byName.get(b) - byName.get(a) || (a < b ? -1 : 1));
    const series = names.slice(0, PALETTE.length).map((n, i) => ({ key: n, color: PALETTE[i] }));
    if (names.length > PALETTE.length) series.push({ key: OTHER, color: OTHER_COLOR });
    const top = new Set(series.map((s) => s.key));

    const cells = new Map(); // bucket time → series key → summed row
    for (const r of rows) {
      const t = Date.parse(r.bucket), k = top.has(r[group]) ? r[group] : OTHER;
      if (!cells.has(t)) cells.set(t, new Map());
      const c = cells.get(t).get(k) || { requests: 0, tokens: 0, cost: 0, p50: r.latency_p50_ms, p95: r.latency_p95_ms };
      c.requests += r.requests;
      c.tokens += r.prompt_tokens + r.completion_tokens;
      c.cost += r.cost;
      cells.get(t).set(k, c);
    }
    const ctx = { buckets, series, cells, bucket };
    bars($('chart-requests'), ctx, 'requests', int);
    bars($('chart-tokens'), ctx, 'tokens', (v) => compact.format(v));
    bars($('chart-cost'), ctx, 'cost', money);
    lines($('chart-latency'), ctx);
    fill($('legend'), series.map((s) => el('span', { class: 'item' },
      sv('svg', { width: 12, height: 12, 'aria-hidden': 'true' }, sv('rect', { width: 12, height: 12, rx: 2, fill: s.color })),
      name(s.key))));
  }

  const W = 640, H = 220, L = 56, R = 10, T = 10, B = 26;

  // frame returns an SVG with the y grid and the x labels drawn.
  function frame(ctx, max, fmt) {
    const svg = sv('svg', { viewBox: `0 0 ${W} ${H}`, class: 'plot', role: 'img' });
    for (let i = 0; i <= 4; i++) {
      const y = T + (H - T - B) * (1 - i / 4);
      svg.append(sv('line', { x1: L, x2: W - R, y1: r1(y), y2: r1(y), class: i ? 'grid' : 'axis' }),
        sv('text', { x: L - 6, y: r1(y + 4), 'text-anchor': 'end', class: 'tick' }, fmt(max * i / 4)));
    }
    const n = ctx.buckets.length, every = Math.max(1, Math.ceil(n / 6));
    ctx.buckets.forEach((t, i) => {
      if (i % every === 0) {
        svg.append(sv('text', { x: r1(xOf(ctx, i) + bw(ctx) / 2), y: H - 8, 'text-anchor': 'middle', class: 'tick' }, utc(t, ctx.bucket)));
      }
    });
    return svg;
  }
  const bw = (ctx) => (W - L - R) / Math.max(1, ctx.buckets.length);
  const xOf = (ctx, i) => L + i * bw(ctx);
  const yOf = (v, max) => T + (H - T - B) * (1 - v / max);
  const r1 = (v) => Math.round(v * 10) / 10;
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v);
  }

  // bars draws stacked bars of metric: one rect per bucket and series
  // with data, carrying the API's number in data-<metric>.
  function bars(target, ctx, metric, fmt) {
    let peak = 0;
    for (const m of ctx.cells.values()) peak = Math.max(peak, [...m.values()].reduce((s, c) => s + c[metric], 0));
    const max = niceMax(peak), svg = frame(ctx, max, fmt), w = bw(ctx);
    const gap = w > 6 ? Math.min(4, w * 0.2) : 0;
    ctx.buckets.forEach((t, i) => {
      const m = ctx.cells.get(t);
      if (!m) return;
      let acc = 0;
      for (const s of ctx.series) {
        const c = m.get(s.key);
        if (!c || !c[metric]) continue;
        const y0 = yOf(acc, max), y1 = yOf(acc + c[metric], max);
        acc += c[metric];
        svg.append(sv('rect', {
          class: 'mark', x: r1(xOf(ctx, i) + gap / 2), y: r1(y1), width: r1(Math.max(1, w - gap)), height: r1(Math.max(0.5, y0 - y1)), fill: s.color,
          'data-bucket': new Date(t).toISOString(), 'data-group': name(s.key), ['data-' + metric]: c[metric],
        }, sv('title', {}, `${name(s.key)} · ${utc(t, ctx.bucket)} UTC · ${fmt(c[metric])}`)));
      }
    });
    empty(svg, ctx, peak, metric === 'cost' ? 'no priced requests in this range' : 'nothing in this range');
    fill(target, svg);
  }

  function empty(svg, ctx, peak, text) {
    if (!ctx.cells.size || !(peak > 0)) {
      svg.append(sv('text', { x: (W + L) / 2, y: H / 2, 'text-anchor': 'middle', class: 'empty' }, ctx.cells.size ? text : 'no requests in this range'));
    }
  }

  // lines draws p95 (solid) and p50 (dashed) per series, with a point per
  // bucket carrying data-p50 and data-p95.
  function lines(target, ctx) {
    let peak = 0;
    for (const m of ctx.cells.values()) for (const [k, c] of m) if (k !== OTHER) peak = Math.max(peak, c.p95);
    const max = niceMax(peak), svg = frame(ctx, max, ms), w = bw(ctx);
    for (const s of ctx.series) {
      if (s.key === OTHER) continue;
      const d = { p50: '', p95: '' };
      let prev = -2;
      ctx.buckets.forEach((t, i) => {
        const c = ctx.cells.get(t) && ctx.cells.get(t).get(s.key);
        if (!c) return;
        const x = xOf(ctx, i) + w / 2;
        for (const p of ['p50', 'p95']) d[p] += (i === prev + 1 ? 'L' : 'M') + x.toFixed(1) + ' ' + yOf(c[p], max).toFixed(1);
        prev = i;
        svg.append(sv('circle', {
          class: 'mark', cx: r1(x), cy: r1(yOf(c.p95, max)), r: 3, fill: s.color,
          'data-bucket': new Date(t).toISOString(), 'data-group': name(s.key), 'data-p50': c.p50, 'data-p95': c.p95,
        }, sv('title', {}, `${name(s.key)} · ${utc(t, ctx.bucket)} UTC · p50 ${ms(c.p50)} · p95 ${ms(c.p95)}`)));
      });
      svg.append(sv('path', { d: d.p95, stroke: s.color, class: 'line' }),
        sv('path', { d: d.p50, stroke: s.color, class: 'line dashed' }));
    }
    empty(svg, ctx, ctx.cells.size ? 1 : 0, '');
    fill(target, svg);
  }

  function tops(summary) {
    const table = (id, list) => fill($(id),
      el('thead', {}, el('tr', {}, el('th', {}, 'Name'), el('th', { class: 'num' }, 'Requests'), el('th', { class: 'num' }, 'Errors'),
        el('th', { class: 'num' }, 'Tokens'), el('th', { class: 'num' }, 'Cost'))),
      el('tbody', {}, list.length ? list.map((r) => el('tr', {},
        el('td', { class: r.name === '' ? 'muted' : '' }, name(r.name)), el('td', { class: 'num' }, int(r.requests)),
        el('td', { class: 'num' }, int(r.errors)), el('td', { class: 'num' }, compact.format(r.prompt_tokens + r.completion_tokens)),
        el('td', { class: 'num' }, money(r.cost)))) : el('tr', {}, el('td', { colspan: 5, class: 'muted' }, 'nothing yet'))));
    table('top-projects', summary.top_projects || []);
    table('top-models', summary.top_models || []);
    table('top-clients', summary.top_clients || []);
  }

  function recentTable(rows) {
    const extra = OPTIONAL.filter(([k]) => rows.some((r) => r[k]));
    const head = ['Time (UTC)', 'Request', 'Status', 'User', 'Project', 'Client', 'Model', 'Tokens in / out', 'Latency', 'Cost'];
    fill($('recent'),
      el('thead', {}, el('tr', {}, head.map((h) => el('th', {}, h)), extra.map(([, h]) => el('th', {}, h)))),
      el('tbody', {}, rows.length ? rows.map((r) => el('tr', { 'data-request-id': r.request_id },
        el('td', { class: 'nowrap' }, r.time.slice(0, 19).replace('T', ' ')),
        el('td', {}, el('code', {}, r.request_id)),
        el('td', {}, el('span', { class: 'badge s' + String(r.status).charAt(0) }, r.status)),
        el('td', {}, r.user), el('td', {}, r.project), el('td', {}, r.client), el('td', {}, r.model),
        el('td', { class: 'num' }, int(r.prompt_tokens) + ' / ' + int(r.completion_tokens)),
        el('td', { class: 'num' }, ms(r.latency_ms)),
        el('td', { class: 'num' }, r.cost === null ? (r.unpriced ? 'unpriced' : '—') : money(r.cost)),
        extra.map(([k]) => el('td', {}, r[k] === undefined || r[k] === null ? '' : r[k]))))
        : el('tr', {}, el('td', { colspan: head.length, class: 'muted' }, 'no requests in this range'))));
  }

  // --- the memory browser -------------------------------------------------

  // With the master key the scope comes from these headers; a user key's
  // scope is its own whatever they say.
  function memHeaders() {
    const h = {}, u = $('mem-user').value.trim(), p = $('mem-project').value.trim();
    if (u) h['X-Memory-User-Id'] = u;
    if (p) h['X-Memory-Project'] = p;
    return h;
  }

  async function memSearch() {
    if (!key()) return;
    const q = $('mem-q').value.trim(), all = $('mem-all').checked;
    const path = q ? '/v1/memory/search?limit=50&q=' + encodeURIComponent(q)
      : '/v1/memory?limit=50' + (all ? '&include_superseded=true' : '');
    $('mem-view').hidden = true;
    try {
      const r = await api(path, { headers: memHeaders() });
      $('mem-scope').textContent = 'Scope ' + r.scope + ' · ' + r.data.length + (q ? ' matches' : ' newest') +
        (all && !q ? ', superseded ones too' : '');
      fill($('mem-list'), r.data.length ? r.data.map(memItem) : el('li', { class: 'muted' }, 'no memories'));
    } catch (e) {
      $('mem-scope').textContent = e.message;
      fill($('mem-list'));
    }
  }

  // sourceText says where a memory came from: client, request, turn.
  function sourceText(src) {
    if (!src) return 'added before sources were kept';
    return [src.client || 'unknown client', src.request_id ? 'request ' + src.request_id : '',
      src.session ? 'session ' + src.session : '', src.turn ? 'turn ' + src.turn : ''].filter(Boolean).join(' · ');
  }

  function statusBadge(m) {
    const superseded = m.status === 'superseded';
    return el('span', { class: 'status ' + (superseded ? 'superseded' : 'active') },
      superseded ? 'superseded' + (m.superseded_by ? ' by ' + m.superseded_by : '') : 'active');
  }

  function memItem(m) {
    const li = el('li', { 'data-memory-id': m.id, 'data-status': m.status || 'active' },
      el('div', { class: 'content' }, m.content.length > 280 ? m.content.slice(0, 280) + '…' : m.content),
      el('div', { class: 'meta' }, statusBadge(m), ' · ', m.created_at.slice(0, 19).replace('T', ' ') + ' UTC',
        m.score !== undefined ? ' · score ' + m.score.toFixed(3) : '', ' · ',
        el('span', { class: 'source' }, sourceText(m.source)), ' · ', el('code', {}, m.id)));
    const view = el('button', { type: 'button', class: 'quiet' }, 'View');
    const edit = el('button', { type: 'button', class: 'quiet', 'data-action': 'edit' }, 'Edit');
    const del = el('button', { type: 'button', class: 'danger', 'data-action': 'forget' }, 'Forget');
    view.addEventListener('click', () => memView(m.id));
    edit.addEventListener('click', () => memEdit(m));
    del.addEventListener('click', async () => {
      if (!confirm('Forget this memory? This cannot be undone.')) return;
      try {
        await api('/v1/memory/' + encodeURIComponent(m.id), { method: 'DELETE', headers: memHeaders() });
        li.remove();
        $('mem-view').hidden = true;
      } catch (e) { say('Could not forget: ' + e.message, 'error'); }
    });
    li.append(el('div', { class: 'actions' }, view, m.status === 'superseded' ? null : edit, del));
    return li;
  }

  // memEdit opens an editor for m; saving supersedes it with the new text
  // (the old text stays in its history).
  function memEdit(m) {
    const text = el('textarea', { id: 'mem-edit-text', rows: '5' });
    text.value = m.content;
    const save = el('button', { type: 'submit', id: 'mem-edit-save' }, 'Save');
    const cancel = el('button', { type: 'button', class: 'quiet' }, 'Cancel');
    cancel.addEventListener('click', () => { $('mem-view').hidden = true; });
    const form = el('form', { id: 'mem-edit', class: 'mem-edit' }, el('h3', {}, 'Edit ', el('code', {}, m.id)),
      el('p', { class: 'muted' }, 'Saving keeps the current text in the memory\'s history; the new text gets a new id.'),
      text, el('div', { class: 'actions' }, save, cancel));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        const r = await api('/v1/memory/' + encodeURIComponent(m.id), { method: 'PUT', headers: memHeaders(), body: { content: text.value } });
        say(r.changed ? 'Saved: ' + m.id + ' is superseded by ' + r.memory.id : 'Nothing changed.', 'info');
        await memSearch();
        memView(r.memory.id);
      } catch (e) { say('Could not save: ' + e.message, 'error'); }
    });
    fill($('mem-view'), form);
    $('mem-view').hidden = false;
    text.focus();
  }

  async function memView(id) {
    try {
      const m = await api('/v1/memory/' + encodeURIComponent(id), { headers: memHeaders() });
      let hist = [];
      try { hist = (await api('/v1/memory/' + encodeURIComponent(id) + '/history', { headers: memHeaders() })).data; } catch (_) { /* backend without history */ }
      const meta = Object.entries(m.metadata || {});
      const close = el('button', { type: 'button', class: 'quiet' }, 'Close');
      close.addEventListener('click', () => { $('mem-view').hidden = true; });
      const about = [['Status', statusBadge(m)], ['Source', sourceText(m.source)], ['Created', m.created_at]];
      if (m.valid_to) about.push(['Valid to', m.valid_to]);
      fill($('mem-view'), el('h3', {}, 'Memory ', el('code', {}, m.id)), el('pre', {}, m.content),
        el('table', { class: 'grid' }, about.map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', {}, v))),
          meta.map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', {}, v)))),
        hist.length > 1 ? el('div', { class: 'history' }, el('h4', {}, 'History (oldest first)'),
          el('ol', {}, hist.map((h) => el('li', { 'data-history-id': h.id, class: h.id === m.id ? 'current' : '' },
            statusBadge(h), ' ', el('span', {}, h.content), ' ', el('span', { class: 'muted' }, sourceText(h.source)))))) : null,
        close);
      $('mem-view').hidden = false;
    } catch (e) { say('Could not load the memory: ' + e.message, 'error'); }
  }

  // --- wiring --------------------------------------------------------------

  function start() {
    takeFragment();
    $('key-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const k = $('key').value.trim();
      $('key').value = '';
      if (k) sessionStorage.setItem(KEY, k);
      refresh();
      memSearch();
    });
    $('forget').addEventListener('click', () => {
      sessionStorage.removeItem(KEY);
      location.reload();
    });
    $('mem-form').addEventListener('submit', (ev) => { ev.preventDefault(); memSearch(); });
    $('mem-all').addEventListener('change', memSearch);
    for (const id of ['range', 'bucket', 'group', 'f-project', 'only-errors']) $(id).addEventListener('change', refresh);
    $('refresh').addEventListener('click', refresh);
    if (key()) $('key').placeholder = 'key set for this tab';
    refresh();
    memSearch();
  }
  start();
})();
