-- wrk script: cycles through the request targets in the file named by TOKENGATE_URIS (one per
-- line), each sent as nginx would (X-Original-URI, X-Real-IP), DEPTH requests per write
-- (pipelining when DEPTH > 1).
local uris = {}
local depth = tonumber(os.getenv("DEPTH") or "1")
local index = 0
local ip = os.getenv("CLIENT_IP") or "203.0.113.7"

init = function(args)
  for line in io.lines(os.getenv("TOKENGATE_URIS")) do uris[#uris + 1] = line end
  index = math.random(#uris)
end

request = function()
  local batch = {}
  for i = 1, depth do
    index = index % #uris + 1
    batch[i] = wrk.format("GET", "/auth", { ["X-Original-URI"] = uris[index], ["X-Real-IP"] = ip, ["Host"] = "tokengate" })
  end
  return table.concat(batch)
end
