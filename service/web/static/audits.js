// The audits page: runs /api/audits/<name> and draws its rows with Apache ECharts
// (vendored in static/vendor). Every chart has ECharts' "save as image" button; the
// renderer select makes that save a PNG (canvas) or an SVG (svg renderer).
'use strict';

const catalogue = JSON.parse(document.getElementById('audit-catalogue').textContent);
const alertLevels = JSON.parse(document.getElementById('alert-level-data').textContent);
const form = document.getElementById('audit-form');
const charts = {};
const FILTERS = ['date_from', 'date_to', 'station_name', 'study_description', 'test_patients'];
const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const STATISTICS = ['count', 'mean', 'p25', 'median', 'p75', 'min', 'max', 'reference_level'];

const byName = (name) => catalogue.find((audit) => audit.name === name);
// As schemas/display.py format_number, so the table and the CSV (format=csv) show the same figures:
// four significant figures but never fewer than the integer digits, halves rounded up, no exponent.
function number(v) {
  if (typeof v !== 'number') return v ?? '';
  if (!Number.isFinite(v)) return '';
  if (Number.isInteger(v)) return v.toLocaleString('en');
  const decimals = Math.max(3 - Math.floor(Math.log10(Math.abs(v))), 0);
  return v.toLocaleString('en', { maximumFractionDigits: Math.min(decimals, 100), roundingMode: 'halfExpand' });
}

function label(row) {
  const parts = [row.name ?? '(blank)'];
  if (row.station !== null && row.station !== undefined) parts.push(`@ ${row.station}`);
  if (typeof row.band === 'number') parts.push(`${row.band}-${row.band + 10} mm`);
  return parts.join(' ');
}

function showParameters() {
  const audit = byName(form.audit.value);
  const holder = document.getElementById('parameters');
  const shown = Object.entries(audit.parameters).filter(([name]) => name !== 'interval');  // the trend chart is monthly
  holder.replaceChildren(...shown.map(([name, spec]) => {
    const select = document.createElement('select');
    select.name = name;
    for (const [value, text] of Object.entries(spec.choices)) {
      select.add(new Option(text, value, false, value === spec.default));
    }
    const wrapper = document.createElement('label');
    wrapper.append(`${spec.title} `, select);
    return wrapper;
  }));
}

function args(overrides = {}) {
  const params = new URLSearchParams();
  const audit = byName(overrides.audit || form.audit.value);
  for (const name of Object.keys(audit.parameters)) {
    const value = overrides[name] ?? form.elements[name]?.value;
    if (value) params.set(name, value);
  }
  for (const name of FILTERS) if (form.elements[name].value) params.set(name, form.elements[name].value);
  return params;
}

async function fetchAudit(name, params) {
  const response = await fetch(`/api/audits/${encodeURIComponent(name)}?${params}`, { headers: { Accept: 'application/json' } });
  const body = await response.json();
  if (!response.ok) throw new Error(body.message || response.statusText);
  return body;
}

function chart(id) {
  const renderer = document.getElementById('renderer').value;
  if (charts[id] && charts[id].renderer !== renderer) { charts[id].instance.dispose(); delete charts[id]; }
  if (!charts[id]) charts[id] = { renderer, instance: echarts.init(document.getElementById(id), null, { renderer }) };
  return charts[id].instance;
}

function common(title, name) {
  return {
    animation: false,  // what is shown is what is saved, at once
    title: { text: title, left: 'center', textStyle: { fontSize: 14 } },
    toolbox: { feature: { saveAsImage: { title: 'Save', name: `doseledger-${name}` } } },
    tooltip: { trigger: 'item' },
    grid: { left: 60, right: 30, bottom: 110, top: 50, containLabel: true },
  };
}

function categoryAxis(labels) {
  return { type: 'category', data: labels, axisLabel: { rotate: 35, interval: 0, width: 160, overflow: 'truncate' } };
}

function whiskers(params, api) {
  const x = api.value(0);
  const low = api.coord([x, api.value(1)]);
  const high = api.coord([x, api.value(2)]);
  const half = api.size([1, 0])[0] * 0.12;
  const style = { stroke: '#222', lineWidth: 1.5 };
  const line = (x1, y1, x2, y2) => ({ type: 'line', shape: { x1, y1, x2, y2 }, style });
  return {
    type: 'group',
    children: [line(low[0], low[1], high[0], high[1]), line(low[0] - half, low[1], low[0] + half, low[1]),
      line(high[0] - half, high[1], high[0] + half, high[1])],
  };
}

function drawMedians(result) {
  const { rows, audit } = result;
  const unit = audit.quantity ? audit.quantity.unit : '';
  const labels = rows.map(label);
  chart('chart-medians').setOption({
    ...common(`${audit.title}: median`, audit.name),
    xAxis: categoryAxis(labels),
    yAxis: { type: 'value', name: unit },
    legend: { top: 24, data: ['median', 'quartiles', 'reference level'] },
    series: [
      { name: 'median', type: 'bar', data: rows.map((r) => ({ value: r.median, itemStyle: r.above_reference ? { color: '#c62828' } : undefined })) },
      { name: 'quartiles', type: 'custom', renderItem: whiskers, data: rows.map((r, i) => [i, r.p25, r.p75]), encode: { x: 0, y: [1, 2] }, z: 10 },
      { name: 'reference level', type: 'scatter', symbol: 'rect', symbolSize: [24, 3], itemStyle: { color: '#ef6c00' }, data: rows.map((r) => r.reference_level ?? null) },
    ],
  }, true);
}

function drawBoxes(result) {
  const { rows, audit } = result;
  chart('chart-box').setOption({
    ...common(`${audit.title}: spread`, `${audit.name}-box`),
    xAxis: categoryAxis(rows.map(label)),
    yAxis: { type: 'value', name: audit.quantity ? audit.quantity.unit : '' },
    series: [{ name: 'spread', type: 'boxplot', data: rows.map((r) => [r.min, r.p25, r.median, r.p75, r.max]) }],
  }, true);
}

function drawTrend(result) {
  const { rows, audit } = result;
  const months = [...new Set(rows.map((r) => r.month).filter(Boolean))].sort();
  const groups = new Map();
  for (const row of rows) {
    const key = label({ ...row, band: row.band });
    if (!groups.has(key)) groups.set(key, new Map());
    groups.get(key).set(row.month, row.median);
  }
  chart('chart-trend').setOption({
    ...common(`${audit.title}: monthly median`, `${audit.name}-trend`),
    tooltip: { trigger: 'axis' },
    legend: { type: 'scroll', bottom: 0 },
    xAxis: { type: 'category', data: months },
    yAxis: { type: 'value', name: audit.quantity ? audit.quantity.unit : '' },
    series: [...groups].map(([name, values]) => ({ name, type: 'line', connectNulls: true, data: months.map((m) => values.get(m) ?? null) })),
  }, true);
}

function drawWorkload(result) {
  const hours = Array.from({ length: 24 }, (_, h) => String(h).padStart(2, '0'));
  const data = result.rows.map((r) => [r.hour, r.weekday - 1, r.count]);
  chart('chart-workload').setOption({
    ...common('Studies per weekday and hour', 'workload'),
    grid: { left: 60, right: 30, bottom: 80, top: 50, containLabel: true },
    xAxis: { type: 'category', data: hours, name: 'hour' },
    yAxis: { type: 'category', data: WEEKDAYS },
    visualMap: { min: 0, max: Math.max(1, ...data.map((d) => d[2])), calculable: true, orient: 'horizontal', left: 'center', bottom: 0 },
    series: [{ name: 'studies', type: 'heatmap', data, label: { show: false } }],
  }, true);
}

function fillTable(id, rows, columns) {
  const table = document.getElementById(id);
  const head = document.createElement('tr');
  for (const column of columns) head.append(Object.assign(document.createElement('th'), { textContent: column }));
  table.tHead.replaceChildren(head);
  table.tBodies[0].replaceChildren(...rows.map((row) => {
    const tr = document.createElement('tr');
    if (row.above_reference) tr.className = 'above';
    for (const column of columns) {
      const value = Array.isArray(row[column]) ? row[column].join('; ') : row[column] ?? (column === 'name' ? '(blank)' : null);
      const td = Object.assign(document.createElement('td'), { textContent: number(value) });
      if (typeof value === 'number') td.className = 'number';
      tr.append(td);
    }
    return tr;
  }));
}

function resultColumns(rows) {
  const present = (key) => rows.some((r) => r[key] !== null && r[key] !== undefined);
  return ['name', 'raw_names', 'station', 'month', 'band', ...STATISTICS, 'above_reference'].filter(present);
}

async function run(event) {
  if (event) event.preventDefault();
  const status = document.getElementById('status');
  const name = form.audit.value;
  const audit = byName(name);
  status.textContent = 'Running...';
  document.body.dataset.ready = 'false';
  document.getElementById('csv').href = `/api/audits/${name}?${args({})}&format=csv`;
  document.getElementById('csv-full').href = `/api/audits/${name}?${args({})}&format=csv&precision=full`;
  try {
    const statistics = Object.keys(audit.parameters).length > 0;
    const [main, trend, workload, alerts] = await Promise.all([
      fetchAudit(name, args()),
      statistics ? fetchAudit(name, args({ interval: 'month' })) : null,
      fetchAudit('workload', args({ audit: 'workload' })),
      fetchAudit('high_dose_alerts', args({ audit: 'high_dose_alerts' })),
    ]);
    if (statistics) {
      drawMedians(main);
      drawBoxes(main);
      drawTrend(trend);
      fillTable('results', main.rows, resultColumns(main.rows));
    } else {
      fillTable('results', main.rows, Object.keys(main.rows[0] || {}));
    }
    drawWorkload(workload);
    fillTable('alerts', alerts.rows, ['study_instance_uid', 'study_date_time', 'station', 'study_description', 'total_dap', 'total_rp_dose', 'total_fluoro_time']);
    const left = form.elements.test_patients.value ? '' : ' Test patients are left out (Test patients: Included counts them).';
    status.textContent = `${main.rows.length} rows; ${alerts.rows.length} studies above an alert level.${left}`;
    document.body.dataset.ready = 'true';
  } catch (e) {
    status.textContent = `The audit could not run: ${e.message}`;
  }
}

document.getElementById('alert-levels').textContent = Object.entries(alertLevels)
  .filter(([key]) => key !== 'about')
  .map(([key, group]) => `${key} (${group.modalities.join(', ')}): ${Object.entries(group.levels).map(([f, v]) => `${f} > ${v}`).join(', ')}`)
  .join('; ') + ' (summary units: DAP Gy·m², dose at RP Gy, DLP mGy·cm).';
form.audit.addEventListener('change', () => { showParameters(); run(); });
document.getElementById('renderer').addEventListener('change', () => run());
form.addEventListener('submit', run);
window.addEventListener('resize', () => Object.values(charts).forEach((c) => c.instance.resize()));
// The study filters can come in the page's URL (/audits?test_patients=only&date_from=...).
const given = new URLSearchParams(window.location.search);
for (const name of FILTERS) if (given.get(name)) form.elements[name].value = given.get(name);
showParameters();
run();
