import { luaScript } from './lua.js';

/**
 * Creates a batch record, honouring an Idempotency-Key atomically (a concurrent double submit
 * finds the key set and gets the first batch's id), indexes it and counts it as open; prunes
 * index entries older than the record TTL.
 * KEYS: batch, idem, batchIndex, batchStats
 * ARGV: id, recordTtlSec, useIdem(0|1), idemValue, idemTtlSec, pruneBelowId, field, value, …
 * Returns {1, id} when created, {0, idemValue} when the key already named a batch.
 */
export const createBatchScript = luaScript(`
if ARGV[3] == '1' then
  local existing = redis.call('GET', KEYS[2])
  if existing then return {0, existing} end
  redis.call('SET', KEYS[2], ARGV[4], 'EX', ARGV[5])
end
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
redis.call('ZREMRANGEBYLEX', KEYS[3], '-', '(' .. ARGV[6])
redis.call('HINCRBY', KEYS[4], 'open', 1)
return {1, ARGV[1]}
`);

/**
 * Marks an open batch finished, but only if no retry reopened it since the finaliser read it
 * (same `round`). Moves it from `open` to its final state in the stats.
 * KEYS: batch, members, batchStats   ARGV: round, finalState, now, recordTtlSec, field, value, …
 * Returns 1 when committed, 0 when the batch moved on (or is gone).
 */
export const commitBatchScript = luaScript(`
local st = redis.call('HMGET', KEYS[1], 'state', 'round')
if st[1] ~= 'open' or st[2] ~= ARGV[1] then return 0 end
local fields = {'state', ARGV[2], 'finishedAt', ARGV[3], 'updatedAt', ARGV[3]}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('HINCRBY', KEYS[3], 'open', -1)
redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
return 1
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
