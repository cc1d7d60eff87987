-- admit.lua: check every subject's limits and, only when all of them allow
-- the request, count it (rpm) and take a parallel lease for each subject.
-- The layout of KEYS and ARGV is documented at admitScript in redis.go; the
-- algorithm is the package documentation's, the same as memory.go's.
local W = 60 -- buckets of 1 s per window
local now = tonumber(ARGV[1])
local cur = math.floor(now / 1000)
local lease, parTTL, need = ARGV[2], ARGV[4], tonumber(ARGV[5])
local n = #KEYS / 4

-- window sums the buckets of the window ending at second cur, deleting the
-- buckets that have left it; it returns the sum and the live buckets. A
-- bucket ahead of cur (written by a replica whose clock is ahead) counts.
local function window(key)
  local flat = redis.call('HGETALL', key)
  local live, used, stale = {}, 0, {}
  for i = 1, #flat, 2 do
    local sec, c = tonumber(flat[i]), tonumber(flat[i + 1])
    if sec <= cur - W then
      stale[#stale + 1] = flat[i]
    else
      live[#live + 1] = {sec, c}
      used = used + c
    end
  end
  if #stale > 0 then redis.call('HDEL', key, unpack(stale)) end
  return used, live
end

-- retry returns the ms until the oldest buckets holding at least excess (or
-- all of them) have left the window.
local function retry(live, excess)
  table.sort(live, function(a, b) return a[1] < b[1] end)
  local cum, last = 0, cur
  for _, b in ipairs(live) do
    cum, last = cum + b[2], b[1]
    if cum >= excess then break end
  end
  return (last + W) * 1000 - now
end

local best
local function deny(i, reason, ms)
  if best == nil or ms > best[3] then best = {i, reason, ms} end
end

for i = 1, n do
  local k, a = (i - 1) * 4, 5 + (i - 1) * 5
  local rpm, tpm, par = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local budget, budEnd = tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5])
  if budget > 0 then
    local spent = tonumber(redis.call('GET', KEYS[k + 4]) or '0')
    if spent >= budget then deny(i, 'budget', budEnd - now) end
  end
  if par > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[k + 3], '-inf', now)
    if redis.call('ZCARD', KEYS[k + 3]) >= par then deny(i, 'parallel', 1000) end
  end
  if rpm > 0 then
    local used, live = window(KEYS[k + 1])
    if used + 1 > rpm then deny(i, 'rpm', retry(live, used + 1 - rpm)) end
  end
  if tpm > 0 then
    local used, live = window(KEYS[k + 2])
    if used > 0 and used + need > tpm then deny(i, 'tpm', retry(live, used + need - tpm)) end
  end
end
if best then return {0, best[1], best[2], best[3]} end

local field = string.format('%d', cur)
for i = 1, n do
  local k, a = (i - 1) * 4, 5 + (i - 1) * 5
  if tonumber(ARGV[a + 1]) > 0 then
    redis.call('HINCRBY', KEYS[k + 1], field, 1)
    redis.call('PEXPIRE', KEYS[k + 1], (W + 1) * 1000)
  end
  if tonumber(ARGV[a + 3]) > 0 then
    redis.call('ZADD', KEYS[k + 3], ARGV[3], lease)
    redis.call('PEXPIRE', KEYS[k + 3], parTTL)
  end
end
return {1}
