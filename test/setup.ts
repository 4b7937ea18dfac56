/**
 * Test setup. Under CI, property tests use a fixed seed so that a run is reproducible and a red
 * build always means a change broke something; locally each run draws new cases (set FC_SEED to
 * replay one).
 */
import { FastCheck } from "effect"

const seed = process.env.FC_SEED ?? (process.env.CI ? "20261125" : undefined)
if (seed !== undefined) FastCheck.configureGlobal({ seed: Number(seed) })
