-- Argo CD health of a PolicyTest (security.incidentops.io/v1alpha1), from
-- the conditions the operator writes: Ready=True when every case passes
-- and every invariant holds; Stalled=True naming the first that fails.
-- Argo CD reads one self-contained script a kind, so each kind's file
-- repeats the same reading: Stalled is Degraded, Reconciling is
-- Progressing, Ready=True is Healthy, Ready=False alone is Degraded, each
-- with the condition's message; an object whose current generation the
-- operator has not yet seen is Progressing.
local hs = { status = "Progressing", message = "Waiting for the operator to reconcile" }
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
local generation = obj.metadata.generation
local conditions = {}
for _, condition in ipairs(obj.status.conditions) do
  conditions[condition.type] = condition
end
local stalled, reconciling, ready = conditions["Stalled"], conditions["Reconciling"], conditions["Ready"]
-- The operator stamps each condition with the generation it judged: a
-- Stalled condition of the current generation is the verdict whether or
-- not status.observedGeneration has caught up with it.
if stalled ~= nil and stalled.status == "True" and (generation == nil or stalled.observedGeneration == generation) then
  hs.status = "Degraded"
  hs.message = stalled.message
  return hs
end
if generation ~= nil and (obj.status.observedGeneration == nil or obj.status.observedGeneration < generation) then
  hs.message = "Waiting for the operator to reconcile generation " .. generation
  return hs
end
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message
elseif reconciling ~= nil and reconciling.status == "True" then
  hs.message = reconciling.message
elseif ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message
elseif ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = ready.message
elseif ready ~= nil then
  hs.message = ready.message
end
return hs
