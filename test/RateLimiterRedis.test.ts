import { Effect, Layer } from "effect"
import * as RateLimiterRedis from "../src/RateLimiterRedis.js"
import { storeSuite } from "./support/RateLimiterStoreSuite.js"
import * as RedisServer from "./utils/redisServer.js"

const storeOnServer = Layer.unwrapScoped(
  Effect.map(RedisServer.start, (server) => RateLimiterRedis.layer({ url: server.url, prefix: "suite:" }))
)

storeSuite("redis", storeOnServer)
