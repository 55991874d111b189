// CT CTDIvol of each acquisition, per study description: mongosh "$MONGODB_URI" scripts/mongosh/ct_ctdivol_by_study_description.js (parameters: lib/audit.js)
load(__dirname + '/lib/audit.js');
doseledgerAudit.run('ct_ctdivol_by_study_description');
