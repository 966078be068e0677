-- KEYS[1] lease index; ARGV[1] prefix; ARGV[2] JSON {now, keep, keys}.
-- Reclaims expired leases, then returns settled, reserved for each key (as strings).
local prefix, leases = ARGV[1], KEYS[1]
local p = cjson.decode(ARGV[2])
reclaim(prefix, leases, p.now, p.keep)
local out = {}
for _, k in ipairs(p.keys) do
  local v = redis.call('HMGET', prefix .. 'c:' .. k, 's', 'r')
  out[#out + 1] = v[1] or '0'
  out[#out + 1] = v[2] or '0'
end
return out
