-- Shared helpers, prepended to every script.
-- Amounts arrive as decimal strings. Lua 5.1 numbers are doubles (exact only to 2^53), so sums
-- and comparisons use two base-1e9 limbs; increments use HINCRBY, which is exact int64.
local BASE = 1000000000

local function big(s)
  if not s then return {0, 0} end
  s = tostring(s)
  if string.sub(s, 1, 1) == '-' then return {0, 0} end  -- counters never go negative
  local n = #s
  if n <= 9 then return {0, tonumber(s)} end
  return {tonumber(string.sub(s, 1, n - 9)), tonumber(string.sub(s, n - 8))}
end

local function add(a, b)
  local hi, lo = a[1] + b[1], a[2] + b[2]
  if lo >= BASE then hi, lo = hi + 1, lo - BASE end
  return {hi, lo}
end

local function gt(a, b)
  return a[1] > b[1] or (a[1] == b[1] and a[2] > b[2])
end

local function str(a)
  if a[1] == 0 then return string.format('%d', a[2]) end
  return string.format('%d%09d', a[1], a[2])
end

-- Take `amount` off a counter's reserved field, never below zero: a counter that expired
-- while a reservation against it was outstanding must not go negative and free budget.
local function unreserve(ckey, amount)
  if amount == '0' then return end
  if redis.call('HINCRBY', ckey, 'r', '-' .. amount) < 0 then
    redis.call('HSET', ckey, 'r', '0')
  end
end

-- Give back the budget of every reservation of this tenant whose lease has ended.
local function reclaim(prefix, leases, now, keep)
  local ids = redis.call('ZRANGEBYSCORE', leases, '-inf', now)
  for _, id in ipairs(ids) do
    local rk = prefix .. 'res:' .. id
    local rec = redis.call('HMGET', rk, 'state', 'amount', 'rkeys')
    if rec[1] == 'reserved' then
      for _, k in ipairs(cjson.decode(rec[3])) do unreserve(prefix .. 'c:' .. k, rec[2]) end
      redis.call('HSET', rk, 'state', 'expired', 'done', now)
      redis.call('EXPIRE', rk, keep)
    end
    redis.call('ZREM', leases, id)
  end
end
