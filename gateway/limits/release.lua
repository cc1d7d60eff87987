-- release.lua: end an admitted request: free its parallel lease and charge
-- its tokens (tpm) and cost (budget). The layout of KEYS and ARGV is
-- documented at releaseScript in redis.go.
local W = 60
local now = tonumber(ARGV[1])
local field = string.format('%d', math.floor(now / 1000))
local lease, tokens, cost = ARGV[2], tonumber(ARGV[3]), ARGV[4]
for i = 1, #KEYS / 3 do
  local k, a = (i - 1) * 3, 4 + (i - 1) * 4
  if ARGV[a + 1] == '1' and tokens > 0 then
    redis.call('HINCRBY', KEYS[k + 1], field, ARGV[3])
    redis.call('PEXPIRE', KEYS[k + 1], (W + 1) * 1000)
  end
  if ARGV[a + 2] == '1' then
    redis.call('ZREM', KEYS[k + 2], lease)
  end
  if ARGV[a + 3] == '1' and tonumber(cost) > 0 then
    redis.call('INCRBYFLOAT', KEYS[k + 3], cost)
    redis.call('PEXPIRE', KEYS[k + 3], ARGV[a + 4])
  end
end
return 1
