// Fluoroscopy total fluoro time per study description: mongosh "$MONGODB_URI" scripts/mongosh/rf_fluoro_time_by_study_description.js (parameters: lib/audit.js)
load(__dirname + '/lib/audit.js');
doseledgerAudit.run('rf_fluoro_time_by_study_description');
