// Run a DoseLedger audit in mongosh from the same JSON definitions the service uses
// (service/audits/common.json and service/audits/definitions/<name>.json).
//
//   mongosh "$MONGODB_URI" scripts/mongosh/ct_dlp_by_protocol.js
//
// Parameters come from environment variables AUDIT_<NAME> (AUDIT_NAMES=standard,
// AUDIT_PER_STATION=no, AUDIT_INTERVAL=month, AUDIT_DATE_FROM=2024-01-01, ...) or from
// a `params` object set with --eval, e.g. --eval 'var params = {names: "standard"}'.
// Filters: date_from and date_to (YYYY-MM-DD, both inclusive), the text filters below
// (case-insensitive "contains", as in the study lists), and `match` (an EJSON filter).
// AUDIT_FORMAT=json prints the rows as relaxed EJSON instead of a table.
// Loaded with load() so that it sees the shell's db, print and EJSON.
globalThis.doseledgerAudit = (() => {
'use strict';
const fs = require('fs');
const path = require('path');

const HERE = path.join(__dirname, '..', '..', '..', 'service', 'audits');
const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));
const TEXT_FILTERS = {
  station_name: 'equipment.station_name',
  study_description: 'study_description',
  institution_name: 'equipment.institution_name',
  manufacturer_model_name: 'equipment.manufacturer_model_name',
};
const isParam = (node) => node !== null && typeof node === 'object' && !Array.isArray(node)
  && Object.keys(node).length === 1 && '$param' in node;

// Replace {"$param": NAME} as service/audits/pipeline.py does; splice list values.
function substitute(node, values) {
  if (Array.isArray(node)) {
    return node.flatMap((item) => {
      const replaced = substitute(item, values);
      return isParam(item) && Array.isArray(replaced) ? replaced : [replaced];
    });
  }
  if (isParam(node)) {
    if (!(node.$param in values)) throw new Error(`pipeline parameter ${node.$param} has no value`);
    return substitute(values[node.$param], values);  // substitute builds new objects: a copy
  }
  if (node !== null && Object.getPrototypeOf(node) === Object.prototype) {  // not a Date or other BSON value
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, substitute(v, values)]));
  }
  return node;
}

function parameter(params, name) {
  const env = process.env[`AUDIT_${name.toUpperCase()}`];
  const value = params[name] !== undefined ? params[name] : env;
  return value === undefined || String(value).trim() === '' ? undefined : String(value).trim();
}

function day(text, name, plusDays) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) throw new Error(`${name}: Expected a date as YYYY-MM-DD.`);
  const date = new Date(`${text}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + plusDays);
  return date;
}

// Build the filter the service builds for the same list arguments (service/query.py).
function filters(params) {
  const match = {};
  const from = parameter(params, 'date_from');
  const to = parameter(params, 'date_to');
  if (from || to) {
    match.study_date_time = {};
    if (from) match.study_date_time.$gte = day(from, 'date_from', 0);
    if (to) match.study_date_time.$lt = day(to, 'date_to', 1);
  }
  for (const [name, field] of Object.entries(TEXT_FILTERS)) {
    const text = parameter(params, name);
    if (text) match[field] = { $regex: text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), $options: 'i' };
  }
  const extra = parameter(params, 'match');
  return extra ? Object.assign(match, EJSON.parse(extra)) : match;
}

function alertMatch(levels) {
  const clauses = [];
  for (const [key, group] of Object.entries(levels)) {
    if (key === 'about') continue;
    for (const [field, level] of Object.entries(group.levels)) {
      clauses.push({ modalities: { $in: group.modalities }, [`summary.${field}`]: { $gt: level } });
    }
  }
  return clauses.length ? { $or: clauses } : { study_instance_uid: { $in: [] } };
}

// Return the instantiated pipeline of audit `name` with `params` (see the header).
function pipeline(name, params) {
  const common = readJson(path.join(HERE, 'common.json'));
  const audit = readJson(path.join(HERE, 'definitions', `${name}.json`));
  const values = { ...common.fragments, ...common.defaults };
  for (const key of audit.parameters) {
    const spec = common.parameters[key];
    const choice = parameter(params, key) || spec.default;
    if (!(choice in spec.choices)) {
      throw new Error(`${key}: Expected one of ${Object.keys(spec.choices).join(', ')}.`);
    }
    values[key] = common.values[key][choice];
  }
  const levelsFile = process.env.DOSELEDGER_ALERT_LEVELS || path.join(HERE, 'alert_levels.json');
  Object.assign(values, audit.constants, {
    quantity: audit.quantity === undefined ? null : audit.quantity,
    match: filters(params),
    alert_match: alertMatch(readJson(levelsFile)),
  });
  return { audit, stages: substitute(common.templates[audit.template], values) };
}

const round = (v) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(6)) : v);

// Run audit `name` on the current database and print its rows.
function run(name) {
  const params = typeof globalThis.params === 'object' && globalThis.params !== null ? globalThis.params : {};
  let built;
  try {
    built = pipeline(name, params);
  } catch (e) {
    print(`${name}: ${e.message}`);
    quit(2);
  }
  const rows = db.getCollection('studies').aggregate(built.stages).toArray();
  if (parameter(params, 'format') === 'json') {
    print(EJSON.stringify(rows, { relaxed: true }));
    return rows;
  }
  print(`${built.audit.title} (${rows.length} rows)`);
  console.table(rows.map((row) => Object.fromEntries(
    Object.entries(row).filter(([, v]) => v !== null).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : round(v)]),
  )));
  return rows;
}

return { pipeline, run };
})();
