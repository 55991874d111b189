// The audits page: runs /api/audits/<name> and draws its rows with Apache ECharts (vendored in static/vendor).
// The audit, its grouping and the filters live in the URL, so a view can be bookmarked and the back button
// returns to the previous one. Every chart has ECharts' "save as image" button; the renderer select makes that
// save a PNG (canvas) or an SVG (svg renderer). Numbers and dates are written as the lists write them.
'use strict';

const catalogue = JSON.parse(document.getElementById('audit-catalogue').textContent);
const alertLevels = JSON.parse(document.getElementById('alert-level-data').textContent);
const summaryFields = JSON.parse(document.getElementById('summary-fields').textContent);
const form = document.getElementById('audit-form');
const charts = {};
const FILTERS = ['date_from', 'date_to', 'station_name', 'study_description', 'test_patients'];
const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const STATISTICS = ['mean', 'p25', 'median', 'p75', 'min', 'max', 'reference_level'];
const HEADERS = {
  code: 'Code', raw_names: 'Names as sent', station: 'Station', month: 'Month', band: 'Compressed thickness',
  count: 'Count', mean: 'Mean', p25: '25th percentile', median: 'Median', p75: '75th percentile', min: 'Minimum', max: 'Maximum',
  reference_level: 'Reference level', above_reference: 'Above the reference level', weekday: 'Weekday', hour: 'Hour',
};
const ALERT_COLUMNS = ['total_dap', 'total_rp_dose', 'total_fluoro_time', 'total_dlp'];
const { formatNumber, formatDate, groupLabel } = DoseCharts;

const byName = (name) => catalogue.find((audit) => audit.name === name);

function showParameters(values = {}) {
  const audit = byName(form.audit.value);
  const holder = document.getElementById('parameters');
  const shown = Object.entries(audit.parameters).filter(([name]) => name !== 'interval'); // the trend chart is monthly
  holder.replaceChildren(...shown.map(([name, spec]) => {
    const select = document.createElement('select');
    select.name = name;
    const chosen = values[name] && values[name] in spec.choices ? values[name] : spec.default;
    for (const [value, text] of Object.entries(spec.choices)) select.add(new Option(text, value, false, value === chosen));
    select.addEventListener('change', () => run());
    const wrapper = document.createElement('label');
    wrapper.append(`${spec.title} `, select);
    return wrapper;
  }));
}

// The API arguments of an audit: its parameters (from the form, or overridden) and the filters.
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

// What the page's own URL keeps: the audit, its grouping, the filters and the renderer.
function pageQuery() {
  const params = args();
  params.set('audit', form.audit.value);
  if (document.getElementById('renderer').value !== 'canvas') params.set('renderer', 'svg');
  const ordered = new URLSearchParams([['audit', params.get('audit')], ...[...params].filter(([k]) => k !== 'audit')]);
  return `?${ordered}`;
}

function fromUrl() {
  const params = new URLSearchParams(window.location.search);
  if (params.get('audit') && byName(params.get('audit'))) form.audit.value = params.get('audit');
  for (const name of FILTERS) form.elements[name].value = params.get(name) || '';
  if (form.elements.test_patients.selectedIndex < 0) form.elements.test_patients.value = '';
  document.getElementById('renderer').value = params.get('renderer') === 'svg' ? 'svg' : 'canvas';
  showParameters(Object.fromEntries(params));
}

function chart(id) {
  const renderer = document.getElementById('renderer').value;
  if (charts[id] && charts[id].renderer !== renderer) { charts[id].instance.dispose(); delete charts[id]; }
  if (!charts[id]) charts[id] = { renderer, instance: echarts.init(document.getElementById(id), null, { renderer }) };
  return charts[id].instance;
}

function unitOf(audit) {
  return audit.quantity ? audit.quantity.unit : '';
}

function drawTrend(result) {
  const { rows, audit } = result;
  const months = [...new Set(rows.map((r) => r.month).filter(Boolean))].sort();
  const groups = new Map();
  for (const row of DoseCharts.distinguish(rows)) {
    const key = groupLabel(row);
    if (!groups.has(key)) groups.set(key, new Map());
    groups.get(key).set(row.month, row.median);
  }
  const element = document.getElementById('chart-trend');
  element.style.height = '';
  const trend = chart('chart-trend');
  trend.resize();
  const options = DoseCharts.base(`${audit.title}: monthly median`, `${audit.name}-trend`, element);
  trend.setOption({
    ...options,
    tooltip: { trigger: 'axis', valueFormatter: (v) => formatNumber(v) },
    legend: { type: 'scroll', bottom: 0, formatter: (name) => (name.length > 40 ? `${name.slice(0, 39)}…` : name), tooltip: { show: true } },
    grid: { ...options.grid, bottom: 48 },
    xAxis: { type: 'category', data: months },
    yAxis: { type: 'value', name: unitOf(audit), axisLabel: { formatter: (v) => formatNumber(v) } },
    series: [...groups].map(([name, values]) => ({ name, type: 'line', connectNulls: true, data: months.map((m) => values.get(m) ?? null) })),
  }, true);
}

function drawWorkload(result) {
  const hours = Array.from({ length: 24 }, (_, h) => String(h).padStart(2, '0'));
  const data = result.rows.map((r) => [r.hour, r.weekday - 1, r.count]);
  const options = DoseCharts.base('Studies per weekday and hour', 'workload', document.getElementById('chart-workload'));
  chart('chart-workload').setOption({
    ...options,
    tooltip: { trigger: 'item', formatter: (p) => `${WEEKDAYS[p.value[1]]} ${hours[p.value[0]]}:00: ${formatNumber(p.value[2])} studies` },
    grid: { ...options.grid, right: 16, bottom: 70 },
    xAxis: { type: 'category', data: hours, name: 'hour', nameLocation: 'middle', nameGap: 24 },
    yAxis: { type: 'category', data: WEEKDAYS, inverse: true },
    visualMap: { min: 0, max: Math.max(1, ...data.map((d) => d[2])), calculable: true, orient: 'horizontal', left: 'center', bottom: 0, itemHeight: 120 },
    series: [{ name: 'studies', type: 'heatmap', data, label: { show: false } }],
  }, true);
}

function cell(text, numeric) {
  const td = document.createElement('td');
  td.textContent = text;
  if (numeric) td.className = 'num';
  return td;
}

function header(columns) {
  const head = document.createElement('tr');
  for (const column of columns) head.append(Object.assign(document.createElement('th'), { scope: 'col', textContent: column.label }));
  return head;
}

function fillTable(id, rows, columns, decorate = () => {}) {
  const table = document.getElementById(id);
  table.tHead.replaceChildren(header(columns));
  table.tBodies[0].replaceChildren(...rows.map((row) => {
    const tr = document.createElement('tr');
    for (const column of columns) tr.append(column.cell(row));
    decorate(tr, row);
    return tr;
  }));
}

// The results' columns that hold a value, headed with their label and, for statistics, the audit's unit.
function resultColumns(result) {
  const { rows, audit } = result;
  const unit = unitOf(audit);
  const present = (key) => rows.some((r) => r[key] !== null && r[key] !== undefined);
  const keys = Object.keys(audit.parameters).length
    ? ['name', 'code', 'raw_names', 'station', 'month', 'band', 'count', ...STATISTICS, 'above_reference'].filter((k) => k === 'name' || present(k))
    : [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return keys.map((key) => {
    let label = key === 'name' ? (audit.group || 'Name') : (HEADERS[key] || key);
    if (STATISTICS.includes(key) && unit) label += ` (${unit})`;
    if (key === 'band') label += ' (mm)';
    return { label, cell: (row) => resultCell(key, row) };
  });
}

function resultCell(key, row) {
  const value = row[key];
  if (key === 'name') return cell(value === null || value === undefined ? '(blank)' : DoseCharts.superscripts(value));
  if (key === 'band') return cell(typeof value === 'number' ? `${value}-${value + 10}` : '');
  if (key === 'code') return Object.assign(cell(value ?? ''), { className: 'code' }); // breaks at its space only
  if (key === 'weekday') return cell(WEEKDAYS[value - 1] || '');
  if (key === 'above_reference') return cell(value === true ? 'yes' : value === false ? 'no' : '');
  if (Array.isArray(value)) return cell(value.join('; '));
  return typeof value === 'number' ? cell(formatNumber(value), true) : cell(value ?? '');
}

// A summary value as the lists show it: in the shown unit (DAP in cGy·cm²), formatted.
function summaryValue(name, value) {
  if (typeof value !== 'number') return '';
  const scale = summaryFields[name] ? summaryFields[name].scale : 0;
  return formatNumber(value * 10 ** scale);
}

function summaryHeader(name) {
  const field = summaryFields[name] || { label: name, unit: null };
  return field.unit ? `${field.label} (${field.unit})` : field.label;
}

function alertColumns(rows) {
  const link = (row) => {
    const td = document.createElement('td');
    const a = document.createElement('a');
    a.href = `/studies/${encodeURIComponent(row.study_instance_uid)}`;
    a.textContent = formatDate(row.study_date_time) || '(no date)';
    td.append(a);
    return td;
  };
  const columns = [
    { label: 'Date and time', cell: link },
    { label: 'Station', cell: (row) => cell(row.station ?? '') },
    { label: 'Study description', cell: (row) => cell(row.study_description ?? '') },
    { label: 'Modalities', cell: (row) => cell((row.modalities || []).join(', ')) },
  ];
  for (const name of ALERT_COLUMNS) {
    if (rows.some((r) => typeof r[name] === 'number')) columns.push({ label: summaryHeader(name), cell: (row) => cell(summaryValue(name, row[name]), true) });
  }
  return columns;
}

function describeLevels() {
  return Object.entries(alertLevels)
    .filter(([key]) => key !== 'about')
    .map(([key, group]) => {
      const levels = Object.entries(group.levels).map(([name, value]) => {
        const field = summaryFields[name] || { label: name, unit: '' };
        return `${field.label} above ${summaryValue(name, value)} ${field.unit || ''}`.trim();
      });
      return `${key} (${group.modalities.join(', ')}): ${levels.join(', ')}`;
    })
    .join('; ');
}

async function run({ push = true } = {}) {
  const status = document.getElementById('status');
  const name = form.audit.value;
  const audit = byName(name);
  const query = pageQuery();
  if (push && query !== window.location.search) window.history.pushState(null, '', query);
  status.textContent = 'Running...';
  document.body.dataset.ready = 'false';
  document.getElementById('csv').href = `/api/audits/${name}?${args({})}&format=csv`;
  document.getElementById('csv-full').href = `/api/audits/${name}?${args({})}&format=csv&precision=full`;
  document.getElementById('csv-full').href = `/api/audits/${name}?${args({})}&format=csv&precision=full`;
  try {
    const statistics = Object.keys(audit.parameters).length > 0;
    const [main, trend, workload, alerts] = await Promise.all([
      DoseCharts.fetchAudit(name, args()),
      statistics ? DoseCharts.fetchAudit(name, args({ interval: 'month' })) : null,
      DoseCharts.fetchAudit('workload', args({ audit: 'workload' })),
      DoseCharts.fetchAudit('high_dose_alerts', args({ audit: 'high_dose_alerts' })),
    ]);
    if (statistics) {
      const options = { unit: unitOf(main.audit), title: `${main.audit.title}: median`, saveName: main.audit.name };
      DoseCharts.medians(chart('chart-medians'), document.getElementById('chart-medians'), main.rows, options);
      DoseCharts.spread(chart('chart-box'), document.getElementById('chart-box'), main.rows, { ...options, title: `${main.audit.title}: spread`, saveName: `${main.audit.name}-box` });
      drawTrend(trend);
    }
    fillTable('results', main.rows, resultColumns(main), (tr, row) => { if (row.above_reference) tr.className = 'above'; });
    drawWorkload(workload);
    fillTable('alerts', alerts.rows, alertColumns(alerts.rows));
    const left = form.elements.test_patients.value ? '' : ' Test patients are left out (Test patients: Included counts them).';
    status.textContent = `${formatNumber(main.rows.length)} rows; ${formatNumber(alerts.rows.length)} studies above an alert level.${left}`;
    document.body.dataset.ready = 'true';
  } catch (e) {
    status.textContent = `The audit could not run: ${e.message}`;
  }
}

document.getElementById('alert-levels').textContent = `Alert levels: ${describeLevels()}.`;
form.audit.addEventListener('change', () => { showParameters(); run(); });
document.getElementById('renderer').addEventListener('change', () => run());
form.addEventListener('submit', (event) => { event.preventDefault(); run(); });
window.addEventListener('popstate', () => { fromUrl(); run({ push: false }); });
window.addEventListener('resize', () => Object.values(charts).forEach((c) => c.instance.resize()));
fromUrl();
run({ push: false });
