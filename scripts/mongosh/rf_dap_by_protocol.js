// Fluoroscopy DAP of each irradiation event, per acquisition protocol: mongosh "$MONGODB_URI" scripts/mongosh/rf_dap_by_protocol.js (parameters: lib/audit.js)
load(__dirname + '/lib/audit.js');
doseledgerAudit.run('rf_dap_by_protocol');
