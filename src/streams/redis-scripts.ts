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
 * A new incarnation takes over a state scope: the actor's epoch counter is bumped, the scope's previous
 * epoch leaves the registry of live epochs and the new one enters it, so every earlier incarnation's
 * commits and fenced outputs are refused from here on. A restart in the same process passes the epoch it
 * continues (ARGV[2], else ''): refused with `FENCED` when another incarnation took over since.
 * KEYS: scope meta, actor's epoch registry. ARGV: instance, previous epoch or ''.
 * Returns `{epoch, {table names}}` (the tables to read back, registered by commits).
 */
export const STATE_RESTORE_LUA = `
local old = redis.call('HGET', KEYS[1], 'epoch')
if ARGV[2] ~= '' and old ~= ARGV[2] then return redis.error_reply('FENCED restore after a takeover') end
local epoch = redis.call('HINCRBY', KEYS[2], 'next', 1)
if old then redis.call('HDEL', KEYS[2], old) end
redis.call('HSET', KEYS[2], epoch, ARGV[1])
redis.call('HSET', KEYS[1], 'epoch', epoch)
local tables = {}
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(field, 1, 2) == 't:' then tables[#tables + 1] = string.sub(field, 3) end
end
return {epoch, tables}
`;

/**
 * One checkpoint, atomically: refused whole (an error reply `FENCED`) unless ARGV epoch is the scope's
 * current one; else the changes are written, the covered entries acked, the meta updated. The first
 * write is to the meta hash, so under OOM Redis refuses it and with it the whole checkpoint: nothing is
 * written, nothing acked. Lua's unpack is limited to ~8000 values, so long runs go in chunks.
 *
 * KEYS: scope meta, the tables' hashes, the source streams.
 * ARGV: epoch, now ms, table count, stream count, run count, the table names, then the runs
 * (table index, 's' + n + n field/value pairs | 'd' + n + n fields: consecutive changes of one kind to
 * one table, in order), then per stream: group, n, n ids.
 * Returns how many entries XACK settled.
 */
export const STATE_COMMIT_LUA = `
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then
  return redis.error_reply('FENCED checkpoint refused: epoch ' .. ARGV[1] .. ' is not current')
end
local CHUNK = 6000
local function chunked(command, key, first, last)
  for i = first, last, CHUNK do
    redis.call(command, key, unpack(ARGV, i, math.min(i + CHUNK - 1, last)))
  end
end
local tables, streams, runs = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('HINCRBY', KEYS[1], 'checkpoints', 1)
local at = 6
for t = 1, tables do
  redis.call('HSET', KEYS[1], 't:' .. ARGV[at], 1)
  at = at + 1
end
local keys = 0
for r = 1, runs do
  local key, kind, n = KEYS[1 + tonumber(ARGV[at])], ARGV[at + 1], tonumber(ARGV[at + 2])
  at = at + 3
  local width = kind == 's' and 2 or 1
  chunked(kind == 's' and 'HSET' or 'HDEL', key, at, at + width * n - 1)
  at = at + width * n
  keys = keys + n
end
local acked = 0
for s = 1, streams do
  local key, group, n = KEYS[1 + tables + s], ARGV[at], tonumber(ARGV[at + 1])
  at = at + 2
  for i = at, at + n - 1, CHUNK do
    acked = acked + redis.call('XACK', key, group, unpack(ARGV, i, math.min(i + CHUNK - 1, at + n - 1)))
  end
  at = at + n
end
redis.call('HSET', KEYS[1], 'at', ARGV[2], 'keys', keys)
return acked
`;
