-- wrk script for the claim benchmarks (bench/loadgen.py builds the arguments).
--
-- Every claim gets a unique Idempotency-Key and a participant id computed from
-- its global index n (0-based, interleaved over threads so the indices are
-- exactly 0..total-1): key = KEY_PREFIX .. n, X-Request-ID = n (the API echoes
-- it, so a response names its claim), and
-- participant = PID_PREFIX .. (PID_OFFSET + n % PARTICIPANTS + 1).
--
-- With TOTAL = 0 wrk runs for its -d duration.
-- With TOTAL > 0 each thread sends its share of the indices. A connection with
-- nothing left to send asks GET /healthz meanwhile (not counted). A request
-- lost to a connection error (wrk reconnects and asks for a new request) is
-- sent again with the same key once the thread has seen no answer for
-- STALL_S seconds: the API answers a replay with the original outcome, so
-- nothing is claimed twice. When all its indices are answered the thread
-- writes DONE_DIR/done-<tid> and stops; wrk's main thread sleeps for the whole
-- -d duration whatever its threads do, so bench/loadgen.py waits for those
-- files and then ends wrk with SIGINT, which makes it report.
--
-- done() prints one line: WRKJSON {...} with counts by status and latency.
--
-- args: MODE(claim|get) PATH TOKEN PREFER KEY_PREFIX NTHREADS TOTAL PARTICIPANTS
--       PID_PREFIX PID_OFFSET DONE_DIR

local STALL_S = 6
local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

function init(args)
  mode = args[1]
  path = args[2]
  auth = "Bearer " .. args[3]
  prefer = args[4]
  key_prefix = args[5]
  nthreads = tonumber(args[6])
  total = tonumber(args[7])
  participants = tonumber(args[8])
  pid_prefix = args[9]
  pid_offset = tonumber(args[10])
  done_dir = args[11]
  sent = 0
  answered = 0
  resent = 0
  duplicates = 0
  statuses = {}
  got = {}
  resend = {}
  last_progress = os.time()
  finished = false
  -- wrk calls request() once on thread 0's state to check it, before any
  -- connection: that call must not use up claim index 0.
  verified = tid ~= 0
  quota = 0
  if total > 0 then
    quota = math.floor(total / nthreads)
    if tid < total % nthreads then
      quota = quota + 1
    end
  end
  filler = wrk.format("GET", "/healthz")
  getreq = wrk.format("GET", path, { ["Authorization"] = auth })
end

local function claim(n)
  local pid = pid_prefix .. (pid_offset + (n % participants) + 1)
  local headers = {
    ["Authorization"] = auth,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = key_prefix .. n,
    ["X-Request-ID"] = tostring(n),
  }
  if prefer ~= "-" then
    headers["Prefer"] = prefer
  end
  local body = '{"participant_id":"' .. pid .. '","points_deduction":true}'
  return wrk.format("POST", path, headers, body)
end

local function unanswered()
  local out = {}
  for k = 0, quota - 1 do
    local n = k * nthreads + tid
    if not got[n] then
      table.insert(out, n)
    end
  end
  return out
end

function request()
  if mode == "get" then
    return getreq
  end
  if not verified then
    verified = true
    return filler
  end
  if total == 0 or sent < quota then
    local n = sent * nthreads + tid
    sent = sent + 1
    return claim(n)
  end
  if #resend == 0 and answered < quota and os.time() - last_progress >= STALL_S then
    resend = unanswered()
    last_progress = os.time()
  end
  if #resend > 0 then
    resent = resent + 1
    return claim(table.remove(resend))
  end
  return filler
end

function response(status, headers, body)
  if mode == "get" then
    statuses[status] = (statuses[status] or 0) + 1
    return
  end
  local n = tonumber(headers["X-Request-ID"] or headers["x-request-id"] or "")
  if n == nil then
    return -- the filler GET /healthz
  end
  if got[n] then
    duplicates = duplicates + 1
    return
  end
  got[n] = true
  statuses[status] = (statuses[status] or 0) + 1
  answered = answered + 1
  last_progress = os.time()
  if total > 0 and answered >= quota and not finished then
    finished = true
    local marker = io.open(done_dir .. "/done-" .. tid, "w")
    marker:close()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local agg = {}
  local resent_all, duplicates_all = 0, 0
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses")
    for code, count in pairs(counts) do
      agg[code] = (agg[code] or 0) + count
    end
    resent_all = resent_all + (thread:get("resent") or 0)
    duplicates_all = duplicates_all + (thread:get("duplicates") or 0)
  end
  local parts = {}
  for code, count in pairs(agg) do
    table.insert(parts, string.format('"%d":%d', code, count))
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,'
      .. '"status":%d,"timeout":%d},"latency_us":{"p50":%d,"p90":%d,"p95":%d,"p99":%d,'
      .. '"max":%d,"mean":%.1f},"statuses":{%s},"resent":%d,"duplicates":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean, table.concat(parts, ","),
    resent_all, duplicates_all))
end
