-- Argo CD health of an AuditTrail segment (security.incidentops.io/v1alpha1).
-- Only the operator appends to a trail, and it writes no conditions: a
-- segment is Healthy, and the message says how many entries it holds and
-- whether it is under legal hold.
local hs = { status = "Healthy" }
local segment, entries = 0, 0
if obj.spec ~= nil then
  segment = obj.spec.segment or 0
  if obj.spec.entries ~= nil then
    entries = #obj.spec.entries
  end
end
hs.message = "Segment " .. segment .. ", " .. entries .. " entries"
if obj.status ~= nil and obj.status.legalHold == true then
  hs.message = hs.message .. ", under legal hold"
end
return hs
