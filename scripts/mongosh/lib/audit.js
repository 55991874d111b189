// Run a DoseLedger audit in mongosh from the same JSON definitions the service uses
// (service/audits/common.json and service/audits/definitions/<name>.json).
//
//   mongosh "$MONGODB_URI" scripts/mongosh/ct_dlp_by_protocol.js
//
// Parameters come from environment variables AUDIT_<NAME> (AUDIT_NAMES=standard,
// AUDIT_PER_STATION=no, AUDIT_INTERVAL=month, AUDIT_DATE_FROM=2024-01-01, ...) or from
// a `params` object set with --eval, e.g. --eval 'var params = {names: "standard"}'.
// Filters: every filter of the study lists and of GET /api/audits/<name> (modality,
// date_from/date_to, the text filters, the ranges, dose_min/dose_max with a modality,
// test_patients: exclude unless given, as in the API),
// read from service/audits/filters.json (generated from the Python tables) and built
// as service/reading/filters.py builds them, so both select the same studies; and `match` (an
// EJSON filter, added to them). A parameter the audit does not take, or a value the API
// would refuse, stops the script naming it. AUDIT_FORMAT=json prints the rows as
// relaxed EJSON instead of a table.
// Loaded with load() so that it sees the shell's db, print and EJSON.
globalThis.doseledgerAudit = (() => {
'use strict';
const fs = require('fs');
const path = require('path');

const HERE = path.join(__dirname, '..', '..', '..', 'service', 'audits');
const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));
const FILTERS = readJson(path.join(HERE, 'filters.json'));
const OWN = ['match', 'format'];  // mongosh's own parameters besides the audit's and the list filters
// (low, high) argument pairs: the dates, then the numeric ranges and the dose
const RANGES = [['date_from', 'date_to'],
  ...[...Object.keys(FILTERS.range_filters), 'dose'].map((stem) => [`${stem}_min`, `${stem}_max`])];
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

const fail = (name, message) => { throw new Error(`${name}: ${message}`); };

// Refuse a parameter the audit does not take: a misspelt filter must not silently select everything.
// One exception: an AUDIT_ variable left in the environment for other audits (AUDIT_NAMES while
// running workload) is skipped with a note, as the shell sets it for every script alike.
function checkNames(params, audit, common) {
  const known = [...audit.parameters, ...FILTERS.filters, ...OWN];
  const fromEnv = Object.keys(process.env).filter((k) => k.startsWith('AUDIT_')).map((k) => k.slice(6).toLowerCase());
  for (const name of [...Object.keys(params), ...fromEnv]) {
    if (FILTERS.not_filters.includes(name)) fail(name, 'The mongosh audits do not take this list argument.');
    if (known.includes(name)) continue;
    if (name in common.parameters && !(name in params)) {
      print(`(AUDIT_${name.toUpperCase()} is not used: this audit takes no ${name})`);
      continue;
    }
    fail(name, `Unknown parameter; expected one of ${known.join(', ')}.`);
  }
}

// Parse the list filters as schemas/query.py does (same refusals), into numbers, dates and texts.
function listArguments(params) {
  const args = {};
  for (const name of FILTERS.filters) {
    const text = parameter(params, name);
    if (text !== undefined) args[name] = text;
  }
  if (args.modality !== undefined) {
    args.modality = args.modality.toUpperCase();
    const names = Object.keys(FILTERS.modalities);
    if (!names.includes(args.modality)) fail('modality', `Expected one of ${names.join(', ')}.`);
  }
  for (const name of Object.keys(FILTERS.text_filters)) {
    const long = [...(args[name] || '')].length > FILTERS.max_text;  // counted in code points, as Python does
    if (long) fail(name, `Expected at most ${FILTERS.max_text} characters.`);
  }
  const tests = FILTERS.test_patients;
  args.test_patients = args.test_patients ?? tests.default;  // audits leave test patients out unless asked
  if (!tests.choices.includes(args.test_patients)) fail('test_patients', `Expected one of ${tests.choices.join(', ')}.`);
  const key = FILTERS.patient_key;
  if (args.patient_key !== undefined && !new RegExp(key.pattern).test(args.patient_key)) fail('patient_key', key.error);
  for (const name of ['date_from', 'date_to']) if (args[name] !== undefined) args[name] = day(args[name], name);
  for (const [low, high] of RANGES.slice(1)) {
    for (const name of [low, high]) if (args[name] !== undefined) args[name] = number(args[name], name);
  }
  return checkConsistency(args);
}

// _check_consistency: refuse reversed ranges, and dose arguments without a modality.
function checkConsistency(args) {
  for (const [low, high] of RANGES) {
    if (args[low] !== undefined && args[high] !== undefined && args[low] > args[high]) {
      fail(high, `Expected ${high} on or after ${low}.`);
    }
  }
  for (const name of ['dose_min', 'dose_max']) {
    if (args[name] !== undefined && args.modality === undefined) {
      fail(name, "Expected together with modality (the dose is the modality's).");
    }
  }
  return args;
}

function day(text, name) {
  const date = new Date(`${text}T00:00:00Z`);
  const valid = /^\d{4}-\d{2}-\d{2}$/.test(text) && !Number.isNaN(date.getTime())
    && date.toISOString().slice(0, 10) === text && text >= '0001-01-01';
  if (!valid) fail(name, 'Expected a date as YYYY-MM-DD.');
  if (name === 'date_to' && text === '9999-12-31') fail(name, 'Expected a date before 9999-12-31.');
  return date;
}

function number(text, name) {
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text)) fail(name, 'Expected a number.');
  const value = Number(text);
  if (!Number.isFinite(value)) fail(name, 'Expected a finite number.');
  if (value < 0) fail(name, 'Expected a number of at least 0.');
  return value;
}

// The clauses of service/reading/filters.py, one for one, so both servers select the same studies.
const contains = (text) => ({ $regex: text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), $options: 'i' });
const anyOf = (conditions) => (conditions.length === 1 ? conditions[0] : { $or: conditions });
const between = (low, high) => Object.fromEntries(
  [['$gte', low], ['$lte', high]].filter(([, value]) => value !== undefined),
);
// schemas/display.py Shown.to_stored: the shown unit -> the stored one, by an exact power of ten
const toStored = (value, scale) => (scale >= 0 ? value / 10 ** scale : value * 10 ** -scale);

// _paths: a text filter searches only the sections of the modality (all of them without one).
function paths(name, modality) {
  const sections = FILTERS.sections[modality] || FILTERS.all_sections;
  const top = (p) => p.split('.')[0];
  return FILTERS.text_filters[name].filter((p) => !FILTERS.all_sections.includes(top(p)) || sections.includes(top(p)));
}

// _conditions: one condition per filter given, besides the date range.
function conditions(args) {
  const found = [];
  const modality = args.modality;
  if (modality) found.push({ modalities: FILTERS.modalities[modality] });
  for (const name of Object.keys(FILTERS.text_filters)) {
    if (args[name] !== undefined) found.push(anyOf(paths(name, modality).map((p) => ({ [p]: contains(args[name]) }))));
  }
  for (const [stem, field] of Object.entries(FILTERS.range_filters)) {
    const [low, high] = [args[`${stem}_min`], args[`${stem}_max`]];
    if (low !== undefined || high !== undefined) found.push({ [field]: between(low, high) });
  }
  if (modality && (args.dose_min !== undefined || args.dose_max !== undefined)) {
    const quantity = FILTERS.main_quantity[modality];
    const [low, high] = [args.dose_min, args.dose_max].map((v) => (v === undefined ? v : toStored(v, quantity.scale)));
    found.push(anyOf(quantity.fields.map((field) => ({ [`summary.${field}`]: between(low, high) }))));
  }
  const condition = FILTERS.test_patients.conditions[args.test_patients];
  if (condition) found.push({ [FILTERS.test_patients.path]: { ...condition } });
  if (args.patient_key !== undefined) found.push({ [FILTERS.patient_key.path]: args.patient_key });
  return found;
}

// _combine: one flat filter; alternatives ($or) go under one $and when there are several.
function combine(found) {
  const flat = Object.assign({}, ...found.filter((c) => !('$or' in c)));
  const alternatives = found.filter((c) => '$or' in c);
  if (alternatives.length === 1) Object.assign(flat, alternatives[0]);
  else if (alternatives.length) flat.$and = alternatives;
  return flat;
}

// study_filter: the date range [from, to + 1 day) first, then the rest; `match` joins them under $and
// (merged flat, a key of its own could replace a filter's).
function filters(params) {
  const args = listArguments(params);
  const dates = {};
  if (args.date_from !== undefined) dates.$gte = args.date_from;
  if (args.date_to !== undefined) dates.$lt = new Date(args.date_to.getTime() + 24 * 3600 * 1000);
  const match = { ...(Object.keys(dates).length ? { [FILTERS.date_path]: dates } : {}), ...combine(conditions(args)) };
  const extra = parameter(params, 'match');
  if (extra !== undefined) match.$and = [...(match.$and || []), EJSON.parse(extra)];
  return match;
}

// The high-dose audit's levels: the study-total alert rules in force, as the service stores them beside
// its rule table (alert_rules, audit_levels: summary units); as service/audits/pipeline.py alert_match.
function alertMatch() {
  const table = db.getCollection('alert_rules').findOne({ _id: 'table' });
  if (table === null) print('No alert rules are stored yet (the service stores its defaults at first use).');
  const clauses = [];
  for (const group of Object.values((table && table.audit_levels) || {})) {
    const where = { modalities: { $in: group.modalities } };
    if (group.stations && group.stations.length) where['equipment.station_name'] = { $in: group.stations };
    for (const [field, level] of Object.entries(group.levels)) {
      clauses.push({ ...where, [`summary.${field}`]: { $gt: level } });
    }
  }
  return clauses.length ? { $or: clauses } : { study_instance_uid: { $in: [] } };
}

// Return the instantiated pipeline of audit `name` with `params` (see the header).
function pipeline(name, params) {
  const common = readJson(path.join(HERE, 'common.json'));
  const audit = readJson(path.join(HERE, 'definitions', `${name}.json`));
  checkNames(params, audit, common);
  const values = { ...common.fragments, ...common.defaults };
  for (const key of audit.parameters) {
    const spec = common.parameters[key];
    const choice = parameter(params, key) || spec.default;
    if (!(choice in spec.choices)) {
      throw new Error(`${key}: Expected one of ${Object.keys(spec.choices).join(', ')}.`);
    }
    values[key] = common.values[key][choice];
  }
  Object.assign(values, audit.constants, {
    quantity: audit.quantity === undefined ? null : audit.quantity,
    match: filters(params),
    alert_match: audit.template === 'alerts' ? alertMatch() : {},
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
