-- KEYS[1] lease index; ARGV[1] prefix; ARGV[2] JSON {rid, now, keep}. No-op unless reserved.
local prefix, leases = ARGV[1], KEYS[1]
local p = cjson.decode(ARGV[2])
local rk = prefix .. 'res:' .. p.rid
local rec = redis.call('HMGET', rk, 'state', 'amount', 'rkeys')
if rec[1] ~= 'reserved' then return 0 end
for _, k in ipairs(cjson.decode(rec[3])) do unreserve(prefix .. 'c:' .. k, rec[2]) end
redis.call('ZREM', leases, p.rid)
redis.call('HSET', rk, 'state', 'released', 'done', p.now)
redis.call('EXPIRE', rk, p.keep)
return 1
