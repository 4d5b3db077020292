/**
 * Lua scripts of the Redis backend. Each runs atomically, which is the point: the check and the write
 * cannot be separated by another client, a retry or a reconnect.
 */

/**
 * Idempotent XADD. KEYS: stream, dedup marker. ARGV: ttl ms, then field/value pairs.
 * Returns `{0, newId}` or `{1, firstId}` (duplicate). The marker is written only after XADD
 * succeeded, so a refused XADD (OOM, WRONGTYPE) leaves no marker that would later skip the output;
 * a re-sent command (ioredis resends unanswered ones after a reconnect) finds the marker and writes
 * nothing. Under OOM, Redis refuses the first write of a script, so nothing is half done.
 */
export const APPEND_UNIQUE_LUA = `
local existing = redis.call('GET', KEYS[2])
if existing then return {1, existing} end
local id = redis.pcall('XADD', KEYS[1], '*', unpack(ARGV, 2))
if type(id) == 'table' and id.err then return id end
redis.call('SET', KEYS[2], id, 'PX', ARGV[1])
return {0, id}
`;

/**
 * XGROUP DELCONSUMER unless the consumer still owns pending entries: DELCONSUMER silently drops
 * them (RELIABILITY.md), so the check and the delete must be one step.
 * KEYS: stream. ARGV: group, consumer. Returns -1 when refused, else DELCONSUMER's reply.
 */
export const DELETE_IDLE_CONSUMER_LUA = `
local owned = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #owned > 0 then return -1 end
return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
`;

/**
 * APPEND_UNIQUE_LUA for a durable actor's output, fenced by its incarnation's epoch: written only while
 * the epoch is live in the actor's registry. KEYS: stream, dedup marker, epoch registry (state-keys.ts).
 * ARGV: ttl ms, epoch, then field/value pairs. On a single Redis the keys may sit in different slots; on a
 * Redis Cluster the output stream is in another slot than the registry (issue 14 routes it).
 */
export const APPEND_FENCED_LUA = `
if redis.call('HEXISTS', KEYS[3], ARGV[2]) == 0 then
  return redis.error_reply('FENCED output write refused: epoch ' .. ARGV[2] .. ' is no longer live')
end
local existing = redis.call('GET', KEYS[2])
if existing then return {1, existing} end
local id = redis.pcall('XADD', KEYS[1], '*', unpack(ARGV, 3))
if type(id) == 'table' and id.err then return id end
redis.call('SET', KEYS[2], id, 'PX', ARGV[1])
return {0, id}
`;

/**
 * An append under a given stream id (`StreamBackend.appendAt`): ordered and idempotent without a marker.
 * KEYS: stream, epoch registry (the stream again when unfenced: one slot either way). ARGV: id, epoch or ''
 * when unfenced, the id of the write before it to this stream in the same pipeline or '', then field/value
 * pairs. Returns `{0, id}` when written, `{1, id}` for a duplicate (the stream holds the id, or nothing
 * below it: trimmed), else the error `ORDER <stream> <id>` (the id falls inside the stream but is absent: a
 * later entry was written first), or `AFTER <stream> <id> <previous>` when the write before it did not
 * land (the stream ends below it): a pipeline's commands interleave with other clients' and the server's
 * own work, so a write refused (out of memory) can be followed by one accepted once memory freed, and the
 * stream would skip the first for good.
 */
export const APPEND_AT_LUA = `
if ARGV[2] ~= '' and redis.call('HEXISTS', KEYS[2], ARGV[2]) == 0 then
  return redis.error_reply('FENCED output write refused: epoch ' .. ARGV[2] .. ' is no longer live')
end
if ARGV[3] ~= '' then
  local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
  local lm, ls, pm, ps
  if last then lm, ls = string.match(last[1], '^(%d+)-(%d+)$') end
  pm, ps = string.match(ARGV[3], '^(%d+)-(%d+)$')
  if not last or tonumber(lm) < tonumber(pm) or (tonumber(lm) == tonumber(pm) and tonumber(ls) < tonumber(ps)) then
    return redis.error_reply('AFTER ' .. KEYS[1] .. ' ' .. ARGV[1] .. ' ' .. ARGV[3])
  end
end
local added = redis.pcall('XADD', KEYS[1], ARGV[1], unpack(ARGV, 4))
if type(added) ~= 'table' or not added.err then return {0, added} end
if not string.find(added.err, 'equal or smaller', 1, true) then return added end
if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) > 0 then return {1, ARGV[1]} end
if #redis.call('XRANGE', KEYS[1], '-', '(' .. ARGV[1], 'COUNT', 1) == 0 then return {1, ARGV[1]} end
return redis.error_reply('ORDER ' .. KEYS[1] .. ' ' .. ARGV[1])
`;

/**
 * A new incarnation takes over a state scope: the actor's epoch counter is bumped, the scope's previous
 * epoch leaves the registry of live epochs and the new one enters it, so every earlier incarnation's
 * commits, compactions and fenced outputs are refused from here on. A restart in the same process passes
 * the epoch it continues (ARGV[2], else ''): refused with `FENCED` when another incarnation took over since,
 * and let through when the scope has no record at all (`LOST`, below: nobody took it over since the loss).
 * A counter that Redis lost starts again from the server's clock in microseconds, never from 1: an epoch
 * handed out before the loss must never be handed out again, or an incarnation that held it would be let
 * back in. A log found without its meta (evicted) is deleted: without the base the meta named, replaying it
 * would give a part of the state, so a scope without a record starts from nothing.
 * KEYS: scope meta, actor's epoch registry, scope log. ARGV: instance, previous epoch or ''.
 * Returns `{epoch, base generation or '', lost, found}`: the state is that base's chunks, then the log's
 * segments; lost is 1 when a restart found no record of the scope, found 1 when there was a record.
 */
export const STATE_RESTORE_LUA = `
local old = redis.call('HGET', KEYS[1], 'epoch')
if ARGV[2] ~= '' and old and old ~= ARGV[2] then return redis.error_reply('FENCED restore after a takeover') end
if not old then redis.call('DEL', KEYS[3]) end
if redis.call('HEXISTS', KEYS[2], 'next') == 0 then
  local now = redis.call('TIME')
  redis.call('HSET', KEYS[2], 'next', now[1] .. string.rep('0', 6 - #now[2]) .. now[2])
end
local epoch = redis.call('HINCRBY', KEYS[2], 'next', 1)
if old then redis.call('HDEL', KEYS[2], old) end
redis.call('HSET', KEYS[2], epoch, ARGV[1])
redis.call('HSET', KEYS[1], 'epoch', epoch)
return {epoch, redis.call('HGET', KEYS[1], 'base') or '', (ARGV[2] ~= '' and not old) and 1 or 0, old and 1 or 0}
`;

/**
 * One checkpoint, atomically: refused whole (an error reply `FENCED`; `LOST` when the scope has no record,
 * a Redis restarted without persistence or its keys evicted) unless ARGV epoch is the scope's current one; else its segments move from the staging list to the log, the covered entries are acked and
 * the meta updated. The segments were RPUSHed to the staging list beforehand, one command each: passed
 * through the script they were copied twice (into Lua strings, then back into list values), a few MB per
 * checkpoint that held Redis 10–60 ms; LMOVE moves a value without copying it. The first write is to the
 * meta hash, so under OOM Redis refuses it and with it the whole checkpoint: nothing moved, nothing acked.
 * A refused checkpoint's staging list is deleted (or expires, when its process died before the script).
 * Lua's unpack is limited to ~8000 values, so long id lists go in chunks.
 *
 * KEYS: scope meta, scope log, staging list, the source streams.
 * ARGV: epoch, now ms, keys written, segment count, their bytes, stream count, then per stream: group, n,
 * n ids. Returns `{entries acked, log bytes, base bytes}` (the client decides on compaction).
 */
export const STATE_COMMIT_LUA = `
local current = redis.call('HGET', KEYS[1], 'epoch')
if current ~= ARGV[1] then
  redis.call('DEL', KEYS[3])
  if not current then return redis.error_reply('LOST checkpoint refused: the state has no record in Redis') end
  return redis.error_reply('FENCED checkpoint refused: epoch ' .. ARGV[1] .. ' is not current')
end
local CHUNK = 6000
local segments, streams = tonumber(ARGV[4]), tonumber(ARGV[6])
if redis.call('LLEN', KEYS[3]) ~= segments then
  redis.call('DEL', KEYS[3])
  return redis.error_reply('STAGING checkpoint refused: its staging list does not hold its ' .. segments .. ' segments')
end
redis.call('HINCRBY', KEYS[1], 'checkpoints', 1)
for i = 1, segments do redis.call('LMOVE', KEYS[3], KEYS[2], 'LEFT', 'RIGHT') end
local logBytes = redis.call('HINCRBY', KEYS[1], 'logBytes', ARGV[5])
local at = 7
local acked = 0
for s = 1, streams do
  local key, group, n = KEYS[3 + s], ARGV[at], tonumber(ARGV[at + 1])
  at = at + 2
  for i = at, at + n - 1, CHUNK do
    acked = acked + redis.call('XACK', key, group, unpack(ARGV, i, math.min(i + CHUNK - 1, at + n - 1)))
  end
  at = at + n
end
redis.call('HSET', KEYS[1], 'at', ARGV[2], 'keys', ARGV[3])
return {acked, logBytes, tonumber(redis.call('HGET', KEYS[1], 'baseBytes') or '0')}
`;

/**
 * Ends a compaction: the new base (already written under its own key, with an expiry so an abandoned one
 * goes away) replaces the old one and the log's first segments that it folded in are dropped, unless the
 * epoch was taken over (then the new base is deleted and `FENCED` returned) or the base changed meanwhile.
 * KEYS: scope meta, scope log, new base, old base (or the new one again when there was none).
 * ARGV: epoch, old generation or '', new generation, new base bytes, segments folded, their bytes.
 * Returns 1 when swapped, 0 when the base had changed (nothing done).
 */
export const STATE_COMPACT_LUA = `
local current = redis.call('HGET', KEYS[1], 'epoch')
if current ~= ARGV[1] then
  redis.call('DEL', KEYS[3])
  if not current then return redis.error_reply('LOST compaction refused: the state has no record in Redis') end
  return redis.error_reply('FENCED compaction refused: epoch ' .. ARGV[1] .. ' is not current')
end
if (redis.call('HGET', KEYS[1], 'base') or '') ~= ARGV[2] then
  redis.call('DEL', KEYS[3])
  return 0
end
redis.call('LTRIM', KEYS[2], tonumber(ARGV[5]), -1)
redis.call('HSET', KEYS[1], 'base', ARGV[3], 'baseBytes', ARGV[4])
local logBytes = redis.call('HINCRBY', KEYS[1], 'logBytes', -tonumber(ARGV[6]))
redis.call('HINCRBY', KEYS[1], 'compactions', 1)
redis.call('PERSIST', KEYS[3])
if ARGV[2] ~= '' and KEYS[4] ~= KEYS[3] then redis.call('UNLINK', KEYS[4]) end
return {logBytes, tonumber(ARGV[4])}
`;
