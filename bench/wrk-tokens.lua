-- wrk script: cycles through the request targets in the file named by TOKENGATE_URIS (one per
-- line). MODE=auth (default) sends each as nginx's auth subrequest with the source headers
-- (GET /auth with X-Original-URI and X-Real-IP); MODE=target as nginx.example.conf's target form
-- (GET PREFIX/<client ip><uri>, no source header); MODE=direct requests the URI itself (a client
-- of nginx); MODE=envoy sends it as Envoy's HTTP ext_authz does (PREFIX + the URI, X-Real-IP).
-- METHOD_HEADER=1 adds "X-Original-Method: GET" (what nginx.example.conf sends; the embedded
-- default config's listener reads it). DEPTH requests per write (pipelining when DEPTH > 1). Every request is built once in init():
-- formatting per request in Lua made wrk, not the server, the bottleneck near 90k req/s.
local batches = {}
local index = 0

init = function(args)
  local depth = tonumber(os.getenv("DEPTH") or "1")
  local ip = os.getenv("CLIENT_IP") or "203.0.113.7"
  local mode = os.getenv("MODE") or "auth"
  local prefix = os.getenv("PREFIX") or "/tokengate"
  local method = os.getenv("METHOD_HEADER") and "X-Original-Method: GET\r\n" or ""
  local uris = {}
  for line in io.lines(os.getenv("TOKENGATE_URIS")) do uris[#uris + 1] = line end
  local n = #uris
  for b = 1, n do
    local batch = {}
    for i = 1, depth do
      local uri = uris[(b + i - 2) % n + 1]
      if mode == "direct" then
        batch[i] = "GET " .. uri .. " HTTP/1.1\r\nHost: bench\r\n\r\n"
      elseif mode == "target" then
        batch[i] = "GET " .. prefix .. "/" .. ip .. uri .. " HTTP/1.1\r\nHost: tokengate\r\n" .. method .. "\r\n"
      elseif mode == "envoy" then
        batch[i] = "GET " .. prefix .. uri .. " HTTP/1.1\r\nHost: bench\r\nContent-Length: 0\r\nX-Real-IP: " .. ip .. "\r\n\r\n"
      else
        batch[i] = "GET /auth HTTP/1.1\r\nHost: tokengate\r\nX-Original-URI: " .. uri .. "\r\nX-Real-IP: " .. ip .. "\r\n" .. method .. "\r\n"
      end
    end
    batches[b] = table.concat(batch)
  end
  index = math.random(n)
end

request = function()
  index = index % #batches + 1
  return batches[index]
end
