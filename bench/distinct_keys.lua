-- wrk script for the memory run of bench/run.sh: GET /mem with X-Client: PREFIX-000001 ...
-- PREFIX-KEYS, each value once, then stop when KEYS answers have come back. The few requests
-- still in flight past KEYS reuse values from the start, so exactly KEYS distinct keys are made.
-- KEYS, KEY_PREFIX and DONE_FILE come from the environment. Meant for -t1 (the counters are per
-- thread). wrk runs for its -d duration whatever a thread does, so the script also creates
-- DONE_FILE when it is done, and bench/run.sh then ends wrk early with SIGINT (wrk still reports).
local keys = tonumber(os.getenv("KEYS") or "100000")
local prefix = os.getenv("KEY_PREFIX") or "client"
local done_file = os.getenv("DONE_FILE")
local sent = 0
local answered = 0

request = function()
  local k = sent % keys + 1
  sent = sent + 1
  return wrk.format("GET", "/mem", { ["X-Client"] = string.format("%s-%06d", prefix, k) })
end

response = function(status, headers, body)
  answered = answered + 1
  if answered == keys then
    if done_file then
      local f = io.open(done_file, "w")
      f:write(sent, "\n")
      f:close()
    end
    wrk.thread:stop()
  end
end
