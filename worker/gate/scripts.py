"""The Redis gate's Lua scripts: every state change is one atomic script.

State (all keys under `keys.gate(key_id)`, see worker/keys.py):

- holders: ZSET ticket -> lease expiry (ms, Redis clock). A lease not renewed
  before its expiry is purged by the next script run, freeing its slot.
- waiters: ZSET ticket -> fair score (`gate_aimd.fair_score`); ties are served
  by ticket, whose zero-padded sequence number keeps arrival order.
- waiter-expiry: ZSET ticket -> expiry: a waiter that dies is dropped.
- review-turns, clock: the fair queue's per-review last score, `vt`, `seq`.
- aimd: the effective cap (`gate_aimd` mirrored in Lua).
- epoch, grace: restart detection (see `EPOCH_CHECK`).

A ticket is `<seq:012d>|<process id>|<review key>`. A grant is pushed, as `ticket<TAB>grant ms`, on
the granted process's wake LIST, which that process BLPOPs: waiters never poll
Redis in a loop; a per-process keeper renews leases and, while the process
has waiters, runs SYNC about once a second as the fallback for lost wake-ups
and to reclaim expired leases.

Every script returns `[epoch, now_ms, in_flight, waiting, effective_cap, ...]`.
The scripts build key names for wake lists from a prefix, which is fine on a
single Redis (what kimi-review supports), not on Redis Cluster.
"""

from __future__ import annotations

from typing import Final

# KEYS and the ARGV common to every script. Script-specific ARGV start at 9.
PRELUDE: Final = r"""
local HOLDERS, WAITERS, WEXP, TURNS = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local CLOCK, AIMD, EPOCH, GRACE = KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local CONFIGURED = tonumber(ARGV[1])
local LEASE_TTL = tonumber(ARGV[2])
local TICKET_TTL = tonumber(ARGV[3])
local KNOWN_EPOCH, FRESH_EPOCH = ARGV[4], ARGV[5]
local GRACE_MS = ARGV[6]
local WAKE_PREFIX, WAKE_TTL = ARGV[7], ARGV[8]

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# Restart detection. Redis here runs without AOF: a restart loses the gate's
# state while calls are in flight. The epoch key is written on first use; a
# client that knew an epoch and finds none (or another) knows the state was
# lost. It then opens a grace period without grants, during which every live
# holder re-registers its lease (SYNC re-adds them), so the cap still holds.
EPOCH_CHECK: Final = r"""
local epoch = redis.call('GET', EPOCH)
local restarted = false
if not epoch then
  epoch = FRESH_EPOCH
  redis.call('SET', EPOCH, epoch)
  if KNOWN_EPOCH ~= '' then
    restarted = true
    redis.call('SET', GRACE, '1', 'PX', GRACE_MS)
  end
elseif KNOWN_EPOCH ~= '' and KNOWN_EPOCH ~= epoch then
  restarted = true
end
"""

CORE: Final = r"""
local function aimd_cap()
  local v = redis.call('HMGET', AIMD, 'cap', 'last', 'ceiling')
  return tonumber(v[1]) or CONFIGURED, tonumber(v[2]) or 0, tonumber(v[3]) or 0
end

local function effective()
  local cap = aimd_cap()
  return math.max(1, math.floor(math.min(cap, CONFIGURED)))
end

local function purge()
  redis.call('ZREMRANGEBYSCORE', HOLDERS, '-inf', now)
  local dead = redis.call('ZRANGEBYSCORE', WEXP, '-inf', now)
  for i = 1, #dead do redis.call('ZREM', WAITERS, dead[i]) end
  if #dead > 0 then redis.call('ZREMRANGEBYSCORE', WEXP, '-inf', now) end
end

-- Grant free slots to the lowest scores. `quiet` is the caller's own ticket:
-- it learns of its grant from the reply, so no wake-up is pushed for it.
local function dispatch(quiet)
  if redis.call('EXISTS', GRACE) == 1 then return end
  local free = effective() - redis.call('ZCARD', HOLDERS)
  while free > 0 do
    local head = redis.call('ZPOPMIN', WAITERS)
    if #head == 0 then break end
    local ticket, score = head[1], tonumber(head[2])
    redis.call('ZREM', WEXP, ticket)
    redis.call('ZADD', HOLDERS, now + LEASE_TTL, ticket)
    redis.call('HSET', CLOCK, 'vt', score)
    local proc, review = string.match(ticket, '^%d+|([^|]*)|(.*)$')
    if tonumber(redis.call('HGET', TURNS, review) or '0') <= score then
      redis.call('HDEL', TURNS, review)
    end
    if ticket ~= quiet then
      local wake = WAKE_PREFIX .. proc
      redis.call('RPUSH', wake, ticket .. '\t' .. now)
      redis.call('PEXPIRE', wake, WAKE_TTL)
    end
    free = free - 1
  end
  -- With nobody waiting every review's last score is <= vt: the table is moot.
  if redis.call('ZCARD', WAITERS) == 0 then redis.call('DEL', TURNS) end
end

local function stats()
  return {epoch, now, redis.call('ZCARD', HOLDERS), redis.call('ZCARD', WAITERS), effective()}
end
"""

# ARGV[9] process id, ARGV[10] review key.
# Returns stats .. [ticket, 1 if granted now else 0].
ENTER: Final = r"""
purge()
local seq = redis.call('HINCRBY', CLOCK, 'seq', 1)
local vt = tonumber(redis.call('HGET', CLOCK, 'vt') or '0')
local review = ARGV[10]
local score = math.max(vt, tonumber(redis.call('HGET', TURNS, review) or '0')) + 1
redis.call('HSET', TURNS, review, score)
local ticket = string.format('%012d', seq) .. '|' .. ARGV[9] .. '|' .. review
redis.call('ZADD', WAITERS, score, ticket)
redis.call('ZADD', WEXP, now + TICKET_TTL, ticket)
dispatch(ticket)
local out = stats()
out[6] = ticket
out[7] = redis.call('ZSCORE', HOLDERS, ticket) and 1 or 0
return out
"""

# ARGV[9] ticket: release a lease, or withdraw a waiter (cancelled).
LEAVE: Final = r"""
local ticket = ARGV[9]
redis.call('ZREM', HOLDERS, ticket)
redis.call('ZREM', WAITERS, ticket)
redis.call('ZREM', WEXP, ticket)
purge()
dispatch('')
return stats()
"""

# ARGV[9] = n, ARGV[10 .. 9+n] held tickets, the rest waiting tickets.
# Renews held leases (re-adding them after a restart) and waiting tickets,
# then purges and dispatches. Returns stats .. [lost held tickets,
# one status per waiting ticket: grant time in ms, 'w' waiting or 'x' lost].
SYNC: Final = r"""
local n = tonumber(ARGV[9])
local lost = {}
for i = 10, 9 + n do
  local ticket = ARGV[i]
  if restarted or redis.call('ZSCORE', HOLDERS, ticket) then
    redis.call('ZADD', HOLDERS, now + LEASE_TTL, ticket)
  else
    lost[#lost + 1] = ticket
  end
end
for i = 10 + n, #ARGV do
  if redis.call('ZSCORE', WAITERS, ARGV[i]) then
    redis.call('ZADD', WEXP, now + TICKET_TTL, ARGV[i])
  end
end
purge()
dispatch('')
local statuses = {}
for i = 10 + n, #ARGV do
  local expiry = redis.call('ZSCORE', HOLDERS, ARGV[i])
  if expiry then
    statuses[#statuses + 1] = tostring(tonumber(expiry) - LEASE_TTL)
  elseif redis.call('ZSCORE', WAITERS, ARGV[i]) then
    statuses[#statuses + 1] = 'w'
  else
    statuses[#statuses + 1] = 'x'
  end
end
local out = stats()
out[6] = lost
out[7] = statuses
return out
"""

# ARGV[9] grant time of the failed call ('' unknown), ARGV[10] factor,
# ARGV[11] guard ms, ARGV[12] idle reset ms. Mirrors after_rate_limited.
DECREASE: Final = r"""
local cap, last, ceiling = aimd_cap()
local granted = tonumber(ARGV[9])
local ignore = false
if last > 0 then
  if granted and granted < last then ignore = true end
  if (not granted) and now - last < tonumber(ARGV[11]) then ignore = true end
end
if not ignore then
  local level = effective()
  redis.call('HSET', AIMD, 'cap', math.max(1, level * tonumber(ARGV[10])),
             'last', now, 'ceiling', level)
  redis.call('PEXPIRE', AIMD, ARGV[12])
end
return stats()
"""

# ARGV[9] careful low, ARGV[10] careful slowdown, ARGV[11] probe margin,
# ARGV[12] probe slowdown, ARGV[13] idle reset ms. Mirrors after_success.
INCREASE: Final = r"""
local cap, last, ceiling = aimd_cap()
cap = math.min(cap, CONFIGURED)
if cap < CONFIGURED then
  local step = 1 / math.max(cap, 1)
  local margin = tonumber(ARGV[11])
  if ceiling > 0 and cap >= ceiling - margin and cap <= ceiling + margin then
    step = step / tonumber(ARGV[12])
  elseif ceiling > 0 and cap >= tonumber(ARGV[9]) * ceiling and cap <= ceiling then
    step = step / tonumber(ARGV[10])
  end
  redis.call('HSET', AIMD, 'cap', tostring(math.min(CONFIGURED, cap + step)))
  redis.call('PEXPIRE', AIMD, ARGV[13])
  dispatch('')
end
return stats()
"""

# Read-only view for metrics and `doctor`: stats .. [fractional cap].
PEEK: Final = r"""
purge()
local out = stats()
out[6] = tostring(aimd_cap())
return out
"""


def script(body: str, *, epoch_check: bool = True) -> str:
    """One script's full source: shared prelude, restart check, helpers, body."""
    return PRELUDE + (EPOCH_CHECK if epoch_check else "local epoch = ''\n") + CORE + body
