-- Orthanc as the forwarding PACS (deploy/compose.yaml, profile "pacs"): every instance stored is sent on to
-- DoseLedger's Storage SCP (the modality "doseledger"); Orthanc keeps its copy. The Orthanc Book's auto-routing.
function OnStoredInstance(instanceId, tags, metadata, origin)
  SendToModality(instanceId, 'doseledger')
end
