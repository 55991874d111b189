// Studies above the high-dose alert levels: mongosh "$MONGODB_URI" scripts/mongosh/high_dose_alerts.js (parameters: lib/audit.js)
load(__dirname + '/lib/audit.js');
doseledgerAudit.run('high_dose_alerts');
