-- KEYS[1] lease index; ARGV[1] prefix; ARGV[2] JSON {rid, tenant, actual, now, keep, ttl, res}
-- where res = {amount, rkeys, skeys, created, exp} describes the reservation in case its record
-- is gone. Returns {state, amount, actual}: the first settle's result on every later call.
local prefix, leases = ARGV[1], KEYS[1]
local p = cjson.decode(ARGV[2])
local rk = prefix .. 'res:' .. p.rid
local rec = redis.call('HMGET', rk, 'state', 'amount', 'rkeys', 'skeys', 'actual')
local state = rec[1]
if state == 'settled' or state == 'settled_late' then
  return {state, rec[2], rec[5]}
end
local amount, rkeys, skeys
if state then
  amount, rkeys, skeys = rec[2], cjson.decode(rec[3]), cjson.decode(rec[4])
else
  state, amount, rkeys, skeys = 'expired', p.res.amount, p.res.rkeys, p.res.skeys
end
if state == 'reserved' then
  for _, k in ipairs(rkeys) do unreserve(prefix .. 'c:' .. k, amount) end
  redis.call('ZREM', leases, p.rid)
end
for _, k in ipairs(skeys) do
  local ck = prefix .. 'c:' .. k
  if p.actual ~= '0' then redis.call('HINCRBY', ck, 's', p.actual) end
  -- A very late settle may recreate a counter that already expired: give it a TTL again.
  if redis.call('TTL', ck) < 0 then redis.call('EXPIRE', ck, p.ttl) end
end
local final = 'settled_late'
if state == 'reserved' then final = 'settled' end
redis.call('HSET', rk, 'state', final, 'tenant', p.tenant, 'amount', amount,
  'rkeys', cjson.encode(rkeys), 'skeys', cjson.encode(skeys), 'actual', p.actual, 'done', p.now)
redis.call('EXPIRE', rk, p.keep)
return {final, amount, p.actual}
