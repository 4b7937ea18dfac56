import * as RateLimiter from "../src/RateLimiter.js"
import { storeSuite } from "./support/RateLimiterStoreSuite.js"

storeSuite("memory", RateLimiter.layerStoreMemory)
