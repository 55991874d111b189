// Nuclear medicine administered activity per radiopharmaceutical: mongosh "$MONGODB_URI" scripts/mongosh/nm_activity_by_agent.js (parameters: lib/audit.js)
load(__dirname + '/lib/audit.js');
doseledgerAudit.run('nm_activity_by_agent');
