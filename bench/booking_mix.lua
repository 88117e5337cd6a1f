-- wrk script: a booking mix against the local server (loopback only).
-- 10% GET /health, 50% GET /slots, 40% POST /bookings on a small window of
-- days, so bookings collide and some answer "Slot full" (a 400, counted apart).
local users = {"user_alice", "user_bob", "user_charlie", "user_dave"}
local counter = 0

function init(args)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

request = function()
  counter = counter + 1
  local draw = math.random()
  local day = string.format("2060-%02d-%02d", math.random(1, 12), math.random(1, 28))
  if draw < 0.1 then
    return wrk.format("GET", "/health")
  elseif draw < 0.6 then
    return wrk.format("GET", "/slots?date=" .. day)
  end
  local body = string.format('{"user_id": "%s", "date": "%s", "time": "%02d:00"}',
    users[math.random(1, #users)], day, math.random(9, 16))
  return wrk.format("POST", "/bookings", {["Content-Type"] = "application/json"}, body)
end

done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "duration_s": %.3f, "non_2xx": %d, "socket_errors": %d, ' ..
    '"p50_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
