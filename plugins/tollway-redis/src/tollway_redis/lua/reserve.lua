-- KEYS[1] lease index (zset); ARGV[1] key prefix; ARGV[2] JSON plan:
-- {rid, tenant, amount, now, exp, keep, checks: [{limit, r, s: [...]}], rkeys, skeys, ttl: {k: t}}
-- Returns {'ok'} | {'existing', amount, rkeys, skeys, created, exp, tenant}
--       | {'refused', cap_index, used, settled per sum key...}
local prefix, leases = ARGV[1], KEYS[1]
local p = cjson.decode(ARGV[2])
reclaim(prefix, leases, p.now, p.keep)
local rk = prefix .. 'res:' .. p.rid
local old = redis.call('HMGET', rk, 'state', 'amount', 'rkeys', 'skeys', 'created', 'exp', 'tenant')
if old[1] then
  return {'existing', old[2], old[3], old[4], old[5], old[6], old[7]}
end
local amount = big(p.amount)
for _, c in ipairs(p.checks) do
  local used = big(redis.call('HGET', prefix .. 'c:' .. c.r, 'r'))
  local sums = {}
  for j, k in ipairs(c.s) do
    local v = redis.call('HGET', prefix .. 'c:' .. k, 's') or '0'
    sums[j] = v
    used = add(used, big(v))
  end
  if gt(add(used, amount), big(c.limit)) then
    local out = {'refused', tostring(c.index), str(used)}
    for _, v in ipairs(sums) do out[#out + 1] = v end
    return out
  end
end
for _, k in ipairs(p.rkeys) do
  local ck = prefix .. 'c:' .. k
  if p.amount ~= '0' then redis.call('HINCRBY', ck, 'r', p.amount) end
  redis.call('HSETNX', ck, 's', '0')
  redis.call('EXPIREAT', ck, p.ttl[k])
end
for _, k in ipairs(p.skeys) do
  local ck = prefix .. 'c:' .. k
  redis.call('HSETNX', ck, 's', '0')
  redis.call('EXPIREAT', ck, p.ttl[k])
end
redis.call('HSET', rk, 'state', 'reserved', 'tenant', p.tenant, 'amount', p.amount,
  'rkeys', cjson.encode(p.rkeys), 'skeys', cjson.encode(p.skeys), 'created', p.now, 'exp', p.exp)
redis.call('ZADD', leases, p.exp, p.rid)
return {'ok'}
