// Mammography AGD per view and compressed breast thickness (10 mm bands): mongosh "$MONGODB_URI" scripts/mongosh/mg_agd_by_thickness.js (parameters: lib/audit.js)
load(__dirname + '/lib/audit.js');
doseledgerAudit.run('mg_agd_by_thickness');
