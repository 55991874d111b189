// Shared by the audits page and the list pages' charts: numbers and dates as the pages show them,
// and horizontal charts of audit rows (one bar per group, long names cut with the full name on hover),
// drawn with the vendored Apache ECharts. No inline styles in markup: sizes are set through the CSSOM.
'use strict';

window.DoseCharts = (() => {
  // As schemas.display.format_number: thousands separators, `figures` significant figures but never fewer
  // than the integer digits, rounded half up on the decimal digits, trailing zeros dropped, no exponent.
  function formatNumber(value, figures = 4) {
    if (typeof value !== 'number' || !Number.isFinite(value)) return '';
    if (value === 0) return '0';
    const magnitude = Math.abs(value);
    const decimals = Math.max(figures - 1 - Math.floor(Math.log10(magnitude)), 0);
    const [mantissa, exponent] = magnitude.toExponential().split('e');
    const scaled = Math.round(Number(`${mantissa}e${Number(exponent) + decimals}`));
    const digits = BigInt(scaled).toString().padStart(decimals + 1, '0');
    const whole = digits.slice(0, digits.length - decimals).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    const fraction = digits.slice(digits.length - decimals).replace(/0+$/, '');
    const text = fraction ? `${whole}.${fraction}` : whole;
    return value < 0 && text !== '0' ? `-${text}` : text;
  }

  // Date-times as the lists show them: YYYY-MM-DD HH:MM (the API sends ISO 8601, local time as sent).
  function formatDate(value) {
    return typeof value === 'string' ? value.replace('T', ' ').slice(0, 16) : '';
  }

  // DICOM marks superscripts in code meanings with carets (^18^Fluorine): written as the pages write them.
  const SUPERSCRIPTS = '⁰¹²³⁴⁵⁶⁷⁸⁹';
  function superscripts(text) {
    return String(text).replace(/\^(\d+)\^/g, (_, digits) => [...digits].map((d) => SUPERSCRIPTS[Number(d)]).join(''));
  }

  function groupLabel(row) {
    const parts = [row.name === null || row.name === undefined ? '(blank)' : superscripts(row.name)];
    if (row.station !== null && row.station !== undefined) parts.push(`@ ${row.station}`);
    if (typeof row.band === 'number') parts.push(`${row.band}-${row.band + 10} mm`);
    return parts.join(' ');
  }

  // Rows that share a name but not a code (two codes sent with one meaning) are told apart by their code.
  function distinguish(rows) {
    const codes = new Map();
    for (const row of rows) codes.set(row.name, (codes.get(row.name) || new Set()).add(row.code ?? null));
    return rows.map((row) => (codes.get(row.name).size > 1 && typeof row.code === 'string'
      ? { ...row, name: `${row.name ?? ''} [${row.code}]` } : row));
  }

  // Room for the names beside the bars: a third of the chart, within limits.
  function labelWidth(element) {
    return Math.max(90, Math.min(220, Math.round(element.clientWidth / 3)));
  }

  // Give a horizontal chart the height its groups need (and at least a readable minimum).
  function fitHeight(element, groups) {
    element.style.height = `${Math.max(220, 110 + 28 * groups)}px`;
  }

  function categoryAxis(labels, element) {
    return {
      type: 'category',
      data: labels,
      inverse: true,
      triggerEvent: true,
      axisLabel: { width: labelWidth(element), overflow: 'truncate', interval: 0 },
    };
  }

  function valueAxis(unit) {
    return { type: 'value', name: unit, nameLocation: 'middle', nameGap: 26, axisLabel: { formatter: (v) => formatNumber(v) } };
  }

  // Options every chart shares; a long title wraps (never cut) and the plot starts below it.
  function base(title, saveName, element) {
    const width = Math.max(120, element.clientWidth - 48);
    const lines = Math.ceil((title.length * 8.4) / width); // bold 14 px: about 8 px a character
    return {
      animation: false, // what is shown is what is saved, at once
      title: { text: title, left: 0, textStyle: { fontSize: 14, lineHeight: 19, fontWeight: 600, color: '#1d2327', width, overflow: 'break' } },
      toolbox: { right: 0, feature: { saveAsImage: { title: 'Save', name: `doseledger-${saveName}` } } },
      grid: { left: 8, right: 24, top: 30 + 20 * lines, bottom: 40, containLabel: true },
    };
  }

  // The full name of a group and its statistics, for the tooltip of a bar or of a cut name.
  function describe(row, unit) {
    const lines = [groupLabel(row)];
    lines.push(`median ${formatNumber(row.median)} ${unit}`, `25th-75th percentile ${formatNumber(row.p25)}-${formatNumber(row.p75)} ${unit}`);
    lines.push(`${formatNumber(row.count)} values`);
    if (typeof row.reference_level === 'number') lines.push(`reference level ${formatNumber(row.reference_level)} ${unit}`);
    return lines.map((line) => echarts.format.encodeHTML(line)).join('<br>');
  }

  function tooltip(rows, unit) {
    return {
      trigger: 'item',
      formatter: (params) => {
        if (params.componentType === 'yAxis') return echarts.format.encodeHTML(params.value);
        return describe(rows[params.dataIndex], unit);
      },
    };
  }

  // A horizontal whisker from the 25th to the 75th percentile of each group.
  function whiskers(params, api) {
    const y = api.value(0);
    const low = api.coord([api.value(1), y]);
    const high = api.coord([api.value(2), y]);
    const half = api.size([0, 1])[1] * 0.15;
    const style = { stroke: '#1d2327', lineWidth: 1.5 };
    const line = (x1, y1, x2, y2) => ({ type: 'line', shape: { x1, y1, x2, y2 }, style });
    return {
      type: 'group',
      children: [line(low[0], low[1], high[0], high[1]), line(low[0], low[1] - half, low[0], low[1] + half),
        line(high[0], high[1] - half, high[0], high[1] + half)],
    };
  }

  function medians(chart, element, groups, { title, unit, saveName }) {
    const rows = distinguish(groups);
    fitHeight(element, rows.length);
    chart.resize();
    const series = [
      { name: 'median', type: 'bar', data: rows.map((r) => ({ value: r.median, itemStyle: r.above_reference ? { color: '#b3261e' } : undefined })) },
      { name: 'quartiles', type: 'custom', renderItem: whiskers, data: rows.map((r, i) => [i, r.p25, r.p75]), encode: { x: [1, 2], y: 0 }, z: 10 },
    ];
    if (rows.some((r) => typeof r.reference_level === 'number')) {
      series.push({ name: 'reference level', type: 'scatter', symbol: 'rect', symbolSize: [3, 18], itemStyle: { color: '#b45309' }, data: rows.map((r) => r.reference_level ?? null) });
    }
    chart.setOption({
      ...base(title, saveName, element),
      tooltip: tooltip(rows, unit),
      xAxis: valueAxis(unit),
      yAxis: categoryAxis(rows.map(groupLabel), element),
      series,
    }, true);
  }

  function spread(chart, element, groups, { title, unit, saveName }) {
    const rows = distinguish(groups);
    fitHeight(element, rows.length);
    chart.resize();
    chart.setOption({
      ...base(title, saveName, element),
      tooltip: tooltip(rows, unit),
      xAxis: valueAxis(unit),
      yAxis: categoryAxis(rows.map(groupLabel), element),
      series: [{ name: 'spread', type: 'boxplot', data: rows.map((r) => [r.min, r.p25, r.median, r.p75, r.max]) }],
    }, true);
  }

  async function fetchAudit(name, params) {
    const response = await fetch(`/api/audits/${encodeURIComponent(name)}?${params}`, { headers: { Accept: 'application/json' } });
    const body = await response.json();
    if (!response.ok) throw new Error(body.message || response.statusText);
    return body;
  }

  return { formatNumber, formatDate, superscripts, groupLabel, distinguish, medians, spread, fetchAudit, fitHeight, labelWidth, base, valueAxis };
})();
