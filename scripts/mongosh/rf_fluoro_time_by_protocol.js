// Fluoroscopy irradiation duration of each event, per acquisition protocol: mongosh "$MONGODB_URI" scripts/mongosh/rf_fluoro_time_by_protocol.js (parameters: lib/audit.js)
load(__dirname + '/lib/audit.js');
doseledgerAudit.run('rf_fluoro_time_by_protocol');
