-- Argo CD health of an AuditBatch (security.incidentops.io/v1alpha1).
-- Only the operator creates batches and nobody changes one: a batch is
-- Healthy, and the message says where in the log it begins (health checks
-- have no string library to count its entries).
local hs = { status = "Healthy" }
local first = 0
if obj.spec ~= nil then
  first = obj.spec.first or 0
end
hs.message = "Entries from " .. first .. " of the namespace's audit log"
return hs
