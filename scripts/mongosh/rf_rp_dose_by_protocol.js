// Fluoroscopy dose at RP of each irradiation event, per acquisition protocol: mongosh "$MONGODB_URI" scripts/mongosh/rf_rp_dose_by_protocol.js (parameters: lib/audit.js)
load(__dirname + '/lib/audit.js');
doseledgerAudit.run('rf_rp_dose_by_protocol');
