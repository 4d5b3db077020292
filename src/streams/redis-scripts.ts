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
