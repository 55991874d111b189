// Fluoroscopy total DAP per study description: mongosh "$MONGODB_URI" scripts/mongosh/rf_dap_by_study_description.js (parameters: lib/audit.js)
load(__dirname + '/lib/audit.js');
doseledgerAudit.run('rf_dap_by_study_description');
