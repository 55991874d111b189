// The charts above a study list: for the studies the list's filters select (its newest ones on a large
// database), the median of the modality's main quantity per group and its distribution, from the audits API.
// Hidden charts stay hidden on the next visit and are not fetched. On a phone the filter form starts folded
// unless filters are applied (without JavaScript it stays open).
'use strict';

(() => {
  const filters = document.getElementById('filter-box');
  if (filters && window.matchMedia('(max-width: 40rem)').matches && !/:/.test(filters.querySelector('summary').textContent)) {
    filters.open = false;
  }
  const section = document.getElementById('charts');
  if (!section) return;
  const select = document.getElementById('chart-audit');
  const status = document.getElementById('chart-status');
  const NEWEST = 5000; // studies a chart reads at most, newest first (the API rounds to whole date windows)
  const GROUPS = 20; // groups drawn, the most frequent
  const STORED = 'doseledger.list-charts';
  const charts = {};

  function remembered(value) {
    try {
      if (value === undefined) return localStorage.getItem(STORED);
      localStorage.setItem(STORED, value);
    } catch (e) { /* storage may be off: the charts then open each time */ }
    return null;
  }

  function chart(id) {
    if (!charts[id]) charts[id] = echarts.init(document.getElementById(id), null, { renderer: 'canvas' });
    return charts[id];
  }

  function describe(result, groups, shown) {
    const since = result.filters.date_from;
    const asked = new URLSearchParams(section.dataset.filters).get('date_from');
    const parts = [`${groups} group${groups === 1 ? '' : 's'}`];
    if (shown < groups) parts[0] = `the ${shown} most frequent of ${groups} groups`;
    if (since && since !== asked) parts.push(`studies since ${since} (the newest)`);
    const left = new URLSearchParams(section.dataset.filters).get('test_patients') ? '' : ' Test patients are left out, as in exports.';
    return `Showing ${parts.join(', ')}.${left}`;
  }

  async function draw() {
    const params = new URLSearchParams(section.dataset.filters);
    params.set('per_station', 'no');
    params.set('newest', String(NEWEST));
    status.textContent = 'Loading...';
    document.body.dataset.charts = 'loading';
    try {
      const result = await DoseCharts.fetchAudit(select.value, params);
      const unit = result.audit.quantity ? result.audit.quantity.unit : '';
      const rows = [...result.rows].sort((a, b) => b.count - a.count).slice(0, GROUPS);
      const title = result.audit.title;
      const label = result.audit.group || 'group';
      if (rows.length === 0) {
        status.textContent = 'No values to chart for these studies.';
        Object.values(charts).forEach((c) => c.clear());
      } else {
        DoseCharts.medians(chart('chart-median'), document.getElementById('chart-median'), rows, { title: `Median per ${label.toLowerCase()}`, unit, saveName: `${select.value}-median` });
        DoseCharts.spread(chart('chart-spread'), document.getElementById('chart-spread'), rows, { title: `Distribution per ${label.toLowerCase()}`, unit, saveName: `${select.value}-spread` });
        status.textContent = `${title}. ${describe(result, result.rows.length, rows.length)}`;
      }
      document.body.dataset.charts = 'ready';
    } catch (e) {
      status.textContent = `The charts could not be drawn: ${e.message}`;
      document.body.dataset.charts = 'failed';
    }
  }

  if (remembered() === 'hidden') section.open = false;
  section.addEventListener('toggle', () => {
    remembered(section.open ? 'shown' : 'hidden');
    if (section.open) draw();
  });
  select.addEventListener('change', draw);
  window.addEventListener('resize', () => Object.values(charts).forEach((c) => c.resize()));
  if (section.open) draw();
})();
