/** Lua helpers more than one store layout uses (each layout keeps its own next to its scripts). */
import { luaHelpers } from './script.js'

/** Hash writes of any length, 200 fields per command (Lua's unpack has a stack limit). */
export const HASH_CHUNKS = luaHelpers(
  'hash chunks',
  `
local function hset_chunks(key, list)
  for i = 1, #list, 200 do
    redis.call('HSET', key, unpack(list, i, math.min(i + 199, #list)))
  end
end
local function hdel_chunks(key, list)
  for i = 1, #list, 200 do
    redis.call('HDEL', key, unpack(list, i, math.min(i + 199, #list)))
  end
end
`,
)
