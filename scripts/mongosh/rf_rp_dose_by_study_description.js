// Fluoroscopy total dose at RP per study description: mongosh "$MONGODB_URI" scripts/mongosh/rf_rp_dose_by_study_description.js (parameters: lib/audit.js)
load(__dirname + '/lib/audit.js');
doseledgerAudit.run('rf_rp_dose_by_study_description');
