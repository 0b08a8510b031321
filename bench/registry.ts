// Every named scenario of `npm run bench -- <scenario>`: the HTTP load tests (bench/scenarios.ts,
// run by bench/run.ts against servers in child processes) and the custom ones, which run
// themselves. A new scenario goes into one of the two lists; names must be unique.
import type { CustomScenario } from './lib/custom.js'
import { invalidationScenario } from './invalidation.js'
import { lockScenario } from './lock.js'
import { memoryScenario } from './memory.js'
import { ringScenario } from './ring.js'
import { scenarios as httpScenarios } from './scenarios.js'

export { httpScenarios }

export const customScenarios: CustomScenario[] = [ringScenario, lockScenario, memoryScenario, invalidationScenario]

export const scenarioNames: string[] = [...httpScenarios.map((s) => s.name), ...customScenarios.map((s) => s.name)]

if (new Set(scenarioNames).size !== scenarioNames.length) throw new Error(`duplicate scenario names: ${scenarioNames.join(', ')}`)
