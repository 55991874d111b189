// Workload: studies per weekday and hour: mongosh "$MONGODB_URI" scripts/mongosh/workload.js (parameters: lib/audit.js)
load(__dirname + '/lib/audit.js');
doseledgerAudit.run('workload');
