import { luaScript } from './lua.js';

/**
 * Creates a batch record, honouring an Idempotency-Key atomically (a concurrent double submit
 * finds the key set and gets the first batch's id), admits the work of all its children against
 * the owner's and the total queued-work caps (0: off) and counts it, indexes it globally and per
 * owner and counts it as open; prunes index entries older than the record TTL.
 * KEYS: batch, idem, batchIndex, batchStats, ownerBatchIndex, work:owner, work-total
 * ARGV: id, recordTtlSec, useIdem(0|1), idemValue, idemTtlSec, pruneBelowId, work, ownerCap, totalCap, field, value, …
 * Returns {1, id} when created, {0, idemValue} when the key already named a batch, {-1, queued}
 * when the owner's cap refuses the work, {-2, queued} when the total cap does.
 */
export const createBatchScript = luaScript(`
if ARGV[3] == '1' then
  local existing = redis.call('GET', KEYS[2])
  if existing then return {0, existing} end
end
local work = tonumber(ARGV[7])
local ownerCap = tonumber(ARGV[8])
local totalCap = tonumber(ARGV[9])
local ownerQueued = tonumber(redis.call('GET', KEYS[6]) or '0')
local totalQueued = tonumber(redis.call('GET', KEYS[7]) or '0')
if ownerCap > 0 and ownerQueued + work > ownerCap then return {-1, tostring(ownerQueued)} end
if totalCap > 0 and totalQueued + work > totalCap then return {-2, tostring(totalQueued)} end
if ARGV[3] == '1' then redis.call('SET', KEYS[2], ARGV[4], 'EX', ARGV[5]) end
local fields = {}
for i = 10, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('INCRBY', KEYS[6], work)
redis.call('INCRBY', KEYS[7], work)
redis.call('ZADD', KEYS[3], 0, ARGV[1])
redis.call('ZADD', KEYS[5], 0, ARGV[1])
redis.call('ZREMRANGEBYLEX', KEYS[3], '-', '(' .. ARGV[6])
redis.call('ZREMRANGEBYLEX', KEYS[5], '-', '(' .. ARGV[6])
redis.call('HINCRBY', KEYS[4], 'open', 1)
return {1, ARGV[1]}
`);

/**
 * Marks an open batch finished, but only if no retry reopened it since the finaliser read it
 * (same `round`). Moves it from `open` to its final state in the stats. When the batch has a
 * `webhook`, appends the round's delivery to the webhook outbox in the same step.
 * KEYS: batch, members, batchStats, webhookOutbox   ARGV: round, finalState, now, recordTtlSec, batchId, field, value, …
 * Returns {1, outboxItem or ''} when committed, {0, ''} when the batch moved on (or is gone).
 */
export const commitBatchScript = luaScript(`
local st = redis.call('HMGET', KEYS[1], 'state', 'round', 'webhook')
if st[1] ~= 'open' or st[2] ~= ARGV[1] then return {0, ''} end
local fields = {'state', ARGV[2], 'finishedAt', ARGV[3], 'updatedAt', ARGV[3]}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('HINCRBY', KEYS[3], 'open', -1)
redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
local item = ''
if st[3] and st[3] ~= '' then
  item = cjson.encode({subject = 'batch', batchId = ARGV[5], round = tonumber(ARGV[1]), url = st[3], status = ARGV[2], at = tonumber(ARGV[3])})
  redis.call('RPUSH', KEYS[4], item)
end
return {1, item}
`);

/**
 * Reopens a batch for a retry: next round, state `open`, cancel request and finish time cleared.
 * KEYS: batch, members, batchStats   ARGV: now, recordTtlSec
 * Returns the new round, or -1 when there is no such batch.
 */
export const reopenBatchScript = luaScript(`
local st = redis.call('HMGET', KEYS[1], 'state', 'round')
if not st[1] then return -1 end
if st[1] ~= 'open' then
  redis.call('HINCRBY', KEYS[3], st[1], -1)
  redis.call('HINCRBY', KEYS[3], 'open', 1)
end
local round = redis.call('HINCRBY', KEYS[1], 'round', 1)
redis.call('HSET', KEYS[1], 'state', 'open', 'updatedAt', ARGV[1])
redis.call('HDEL', KEYS[1], 'finishedAt', 'cancelRequestedAt')
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return round
`);
