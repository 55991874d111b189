// CT DLP per acquisition protocol: mongosh "$MONGODB_URI" scripts/mongosh/ct_dlp_by_protocol.js (parameters: lib/audit.js)
load(__dirname + '/lib/audit.js');
doseledgerAudit.run('ct_dlp_by_protocol');
