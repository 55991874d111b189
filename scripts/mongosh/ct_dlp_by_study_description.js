// CT total DLP per study description: mongosh "$MONGODB_URI" scripts/mongosh/ct_dlp_by_study_description.js (parameters: lib/audit.js)
load(__dirname + '/lib/audit.js');
doseledgerAudit.run('ct_dlp_by_study_description');
