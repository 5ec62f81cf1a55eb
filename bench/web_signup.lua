-- wrk script of bench/web.py: the sign-up page, GET and POST in turn, like browsers filling in the form.
--
-- A GET is sent without a cookie (a new visitor): its answer carries the form's CSRF token and the session
-- cookie that token belongs to. Each POST sends the newest such pair with a new address, so every POST is a
-- real sign-up (a person stored, a confirmation email sent). Every request claims a client of its own in
-- X-Forwarded-For (the bench's config trusts one proxy), so the per-address sign-up limit is not what is
-- measured while it is still checked. Arguments (after --): a prefix that makes this run's addresses new.
-- Answers are tallied by status; done() prints one JSON line that bench/web.py reads.

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local prefix = "run"
local counter = 0
local token, cookie = nil, nil
local post_next = false
statuses = {}

function init(args)
  prefix = args[1] or prefix
end

local function client_address()
  -- 10.<thread>.x.y: a new client for every request (65,536 per thread before one repeats).
  return string.format("10.%d.%d.%d", id % 256, math.floor(counter / 256) % 256, counter % 256)
end

function request()
  counter = counter + 1
  if post_next and token then
    post_next = false
    local n = string.format("%s-%d-%d", prefix, id, counter)
    local body = "csrf_token=" .. token .. "&name=Bench+" .. n .. "&email=" .. n .. "%40example.com"
      .. "&team=Team+" .. (counter % 50) .. "&department=Engineering&office=London&timezone=Europe%2FLondon"
      .. "&kinds=coffee&mode=either&cadence=weekly&interests=chess%2C+jazz&meet_people=&meet_teams="
      .. "&meet_departments="
    return wrk.format("POST", "/sign-up", {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Cookie"] = cookie,
      ["X-Forwarded-For"] = client_address(),
    }, body)
  end
  post_next = true
  return wrk.format("GET", "/sign-up", {["X-Forwarded-For"] = client_address()})
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 200 then
    local found = body:match('name="csrf_token" type="hidden" value="([^"]+)"')
    local set = headers["Set-Cookie"]
    if found and set then
      token = found
      cookie = set:match("^([^;]+)")
    end
  end
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[tostring(status)] = (counts[tostring(status)] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(counts) do
    table.insert(parts, string.format('"%s": %d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, '
    .. '"socket_errors": %d, "timeouts": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, e.connect + e.read + e.write, e.timeout, table.concat(parts, ", ")))
end
