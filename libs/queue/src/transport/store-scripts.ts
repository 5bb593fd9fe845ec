import { luaScript } from './lua.js';

/**
 * Creates a record, honouring an Idempotency-Key atomically (a concurrent double submit finds the
 * key already set and gets the first job's id), admits its work against the owner's and the total
 * queued-work caps (a cap of 0 is off) and counts it, and indexes it globally and per owner;
 * prunes index entries older than the record TTL by their id (ids sort by creation time).
 * KEYS: record, idem, index:all, index:queued, index:running, index:succeeded, index:failed, index:canceled,
 *       owner:all, owner:queued, owner:running, owner:succeeded, owner:failed, owner:canceled, work:owner, work-total
 * ARGV: id, recordTtlSec, useIdem(0|1), idemValue, idemTtlSec, pruneBelowId, work, ownerCap, totalCap, field, value, …
 * Returns {1, id} when created, {0, idemValue} when the key already named a job, {-1, queued} when
 * the owner's cap refuses the work, {-2, queued} when the total cap does.
 */
export const createScript = luaScript(`
if ARGV[3] == '1' then
  local existing = redis.call('GET', KEYS[2])
  if existing then return {0, existing} end
end
local work = tonumber(ARGV[7])
local ownerCap = tonumber(ARGV[8])
local totalCap = tonumber(ARGV[9])
local ownerQueued = tonumber(redis.call('GET', KEYS[15]) or '0')
local totalQueued = tonumber(redis.call('GET', KEYS[16]) or '0')
if ownerCap > 0 and ownerQueued + work > ownerCap then return {-1, tostring(ownerQueued)} end
if totalCap > 0 and totalQueued + work > totalCap then return {-2, tostring(totalQueued)} end
if ARGV[3] == '1' then redis.call('SET', KEYS[2], ARGV[4], 'EX', ARGV[5]) end
local fields = {}
for i = 10, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('INCRBY', KEYS[15], work)
redis.call('INCRBY', KEYS[16], work)
for _, k in ipairs({KEYS[3], KEYS[4], KEYS[9], KEYS[10]}) do redis.call('ZADD', k, 0, ARGV[1]) end
for k = 3, 14 do redis.call('ZREMRANGEBYLEX', KEYS[k], '-', '(' .. ARGV[6]) end
return {1, ARGV[1]}
`);

/**
 * Guarded status transition: checks the current status is one `to` may follow (and, when given,
 * that the record's runId matches), writes fields, moves the id between status indexes, counts
 * terminal states, clears the cancel flag on them and indexes them by end time (pruned after 24 h).
 * Webhooks, in the same step (the transactional outbox: no crash can separate the two): on a
 * terminal state of a job whose spec has a `webhook` wanting `completed` (the default when the
 * spec lists no `webhookEvents`), and on the first start (`attempts` becomes 1) of one wanting
 * `start`, appends the delivery to the webhook outbox.
 * Output retention: on a terminal state of a record stamped with `outputRetentionSec`, sets
 * `expiresAt` (kept when the run already wrote one, so job.json and the record agree; else now +
 * retention) and indexes the id by it in `outputExpiry`, which outlives the record.
 * Then, as its own step, ownership and accounting: moves the id between the owner's status
 * indexes, releases the job's queued work on a terminal state, and keeps its batch's per-status
 * counters (and first start / last end) current — only for records that carry those fields.
 * Returns {code, previousStatus, outboxItem or '', hgetall…}: code 1 ok, -1 missing, -2 status not
 * allowed, -3 runId mismatch.
 * KEYS: record, cancelFlag, terminalStats, index:queued, index:running, index:succeeded, index:failed, index:canceled,
 *       finishedIndex, webhookOutbox, owner:queued, owner:running, owner:succeeded, owner:failed, owner:canceled,
 *       work:owner, work-total, batch (the owner/batch keys of the record's `owner` and `batchId`, read before),
 *       outputExpiry
 * ARGV: id, to, allowedFrom (space separated), runId or '', now, recordTtlSec, terminal(0|1),
 *       incrAttempts(0|1), fieldsToDelete (space separated), field, value, …
 */
export const transitionScript = luaScript(`
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {-1, ''} end
local allowed = false
for s in string.gmatch(ARGV[3], '%S+') do if s == status then allowed = true end end
if not allowed then return {-2, status} end
if ARGV[4] ~= '' and redis.call('HGET', KEYS[1], 'runId') ~= ARGV[4] then return {-3, status} end
local fields = {'status', ARGV[2], 'updatedAt', ARGV[5]}
for i = 10, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
for f in string.gmatch(ARGV[9], '%S+') do redis.call('HDEL', KEYS[1], f) end
if ARGV[8] == '1' then redis.call('HINCRBY', KEYS[1], 'attempts', 1) end
redis.call('EXPIRE', KEYS[1], ARGV[6])
local index = {queued = KEYS[4], running = KEYS[5], succeeded = KEYS[6], failed = KEYS[7], canceled = KEYS[8]}
if status ~= ARGV[2] then
  redis.call('ZREM', index[status], ARGV[1])
  redis.call('ZADD', index[ARGV[2]], 0, ARGV[1])
end
if ARGV[7] == '1' then
  redis.call('HINCRBY', KEYS[3], redis.call('HGET', KEYS[1], 'kind') .. ':' .. ARGV[2], 1)
  redis.call('DEL', KEYS[2])
  if KEYS[9] then
    redis.call('ZADD', KEYS[9], ARGV[5], ARGV[1])
    redis.call('ZREMRANGEBYSCORE', KEYS[9], '-inf', tonumber(ARGV[5]) - 86400000)
  end
end
local item = ''
local function wants(spec, name)
  if type(spec['webhook']) ~= 'string' then return false end
  local events = spec['webhookEvents']
  if type(events) ~= 'table' then return name == 'completed' end
  for _, e in ipairs(events) do if e == name then return true end end
  return false
end
local firstStart = ARGV[2] == 'running' and ARGV[8] == '1' and tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0') == 1
if ARGV[7] == '1' or firstStart then
  local ok, spec = pcall(cjson.decode, redis.call('HGET', KEYS[1], 'spec') or '')
  if ok and type(spec) == 'table' then
    if ARGV[7] == '1' and wants(spec, 'completed') then
      item = cjson.encode({subject = 'job', event = 'completed', jobId = ARGV[1], url = spec['webhook'], status = ARGV[2], at = tonumber(ARGV[5])})
    elseif firstStart and wants(spec, 'start') then
      item = cjson.encode({subject = 'job', event = 'start', jobId = ARGV[1], url = spec['webhook'], status = 'running', at = tonumber(ARGV[5])})
    end
    if item ~= '' then redis.call('RPUSH', KEYS[10], item) end
  end
end
if ARGV[7] == '1' then
  local keep = tonumber(redis.call('HGET', KEYS[1], 'outputRetentionSec') or '')
  if keep and keep > 0 then
    local expiresAt = tonumber(redis.call('HGET', KEYS[1], 'expiresAt') or '') or (tonumber(ARGV[5]) + keep * 1000)
    redis.call('HSET', KEYS[1], 'expiresAt', string.format('%d', expiresAt))
    redis.call('ZADD', KEYS[19], expiresAt, ARGV[1])
  end
end
-- ownership and accounting
local acct = redis.call('HMGET', KEYS[1], 'owner', 'work', 'batchId')
if acct[1] and status ~= ARGV[2] then
  local owned = {queued = KEYS[11], running = KEYS[12], succeeded = KEYS[13], failed = KEYS[14], canceled = KEYS[15]}
  redis.call('ZREM', owned[status], ARGV[1])
  redis.call('ZADD', owned[ARGV[2]], 0, ARGV[1])
end
if acct[2] and ARGV[7] == '1' then
  redis.call('DECRBY', KEYS[16], acct[2])
  redis.call('DECRBY', KEYS[17], acct[2])
end
if acct[3] and redis.call('HEXISTS', KEYS[18], 'n:queued') == 1 then
  if status ~= ARGV[2] then
    redis.call('HINCRBY', KEYS[18], 'n:' .. status, -1)
    redis.call('HINCRBY', KEYS[18], 'n:' .. ARGV[2], 1)
  end
  if ARGV[2] == 'running' then redis.call('HSETNX', KEYS[18], 'firstStartedAt', ARGV[5]) end
  if ARGV[7] == '1' then redis.call('HSET', KEYS[18], 'lastFinishedAt', ARGV[5]) end
end
local out = {1, status, item}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all do out[#out + 1] = all[i] end
return out
`);

/**
 * Writes progress if `runId` still owns the running job. Returns -1 when it does not, else
 * whether a cancel was requested (1) or not (0), so a worker learns of a cancel at every step.
 * KEYS: record, cancelFlag   ARGV: runId, progressJson, now
 */
export const progressScript = luaScript(`
local st = redis.call('HMGET', KEYS[1], 'status', 'runId')
if st[1] ~= 'running' or st[2] ~= ARGV[1] then return -1 end
redis.call('HSET', KEYS[1], 'progress', ARGV[2], 'updatedAt', ARGV[3])
return redis.call('EXISTS', KEYS[2])
`);

/**
 * Records a cancel request on a queued or running job: sets the flag workers check and stamps
 * `cancelRequestedAt` once. Returns {1, status} (also for finished jobs, untouched) or {-1}.
 * KEYS: record, cancelFlag   ARGV: now, ttlSec
 */
export const requestCancelScript = luaScript(`
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {-1, ''} end
if status == 'queued' or status == 'running' then
  redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
  redis.call('HSETNX', KEYS[1], 'cancelRequestedAt', ARGV[1])
end
return {1, status}
`);

/**
 * 1-based position of a job among those waiting in one BullMQ queue (jobs without priority first,
 * consumed from the list's right end; then the prioritized set in order). -2 when the job waits
 * in `delayed` (a retry's backoff), -1 when it is in none of them.
 * KEYS: wait, paused, prioritized, delayed   ARGV: jobId
 */
export const queuePositionScript = luaScript(`
local waitLen = redis.call('LLEN', KEYS[1])
local pausedLen = redis.call('LLEN', KEYS[2])
local pos = redis.call('LPOS', KEYS[1], ARGV[1])
if pos then return waitLen - pos end
pos = redis.call('LPOS', KEYS[2], ARGV[1])
if pos then return pausedLen - pos end
local rank = redis.call('ZRANK', KEYS[3], ARGV[1])
if rank then return waitLen + pausedLen + rank + 1 end
if redis.call('ZSCORE', KEYS[4], ARGV[1]) then return -2 end
return -1
`);

/**
 * Claims the retry of a failed or canceled job: sets `retriedBy` once. Returns {1, ''} when this
 * call claimed it, {0, existingId} when the job was already retried, {-1, ''} when there is no
 * such job, {-2, status} when the job is not failed or canceled.
 * KEYS: record   ARGV: newJobId, now
 */
export const claimRetryScript = luaScript(`
local st = redis.call('HMGET', KEYS[1], 'status', 'retriedBy')
if not st[1] then return {-1, ''} end
if st[2] then return {0, st[2]} end
if st[1] ~= 'failed' and st[1] ~= 'canceled' then return {-2, st[1]} end
redis.call('HSET', KEYS[1], 'retriedBy', ARGV[1], 'updatedAt', ARGV[2])
return {1, ''}
`);
