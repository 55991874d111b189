// Radiography DAP of each exposure, per acquisition protocol: mongosh "$MONGODB_URI" scripts/mongosh/dx_dap_by_protocol.js (parameters: lib/audit.js)
load(__dirname + '/lib/audit.js');
doseledgerAudit.run('dx_dap_by_protocol');
