/**
 * Hostile request shapes against the CSRF check and the duplicate-cookie reader, through
 * `sessions.open`: whatever the headers, the answer is a session or CsrfError, never another
 * exception; a garbage cookie next to a good one never hides it.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { createSessions, CsrfError, memoryStore } from '../../src/index.js'
import type { RequestInfo } from '../../src/index.js'
import { SECRET } from './helpers.js'

const RUNS = Number(process.env.FUZZ_RUNS ?? 2_000)

function info(method: string, headers: Record<string, string | undefined>): RequestInfo {
  return { header: (name) => headers[name], encrypted: false, method }
}

const headerText = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.constantFrom('same-origin', 'same-site', 'cross-site', 'none', 'null', 'http://a', 'https://shop.example', 'http://[::1]:80', 'http://%zz', ''),
  fc.webUrl().map((u) => new URL(u).origin),
)

describe('CSRF and cookies under hostile headers', () => {
  it('any Origin / Sec-Fetch-Site / Host / X-Forwarded-Host: a session or CsrfError, nothing else', async () => {
    const sessions = createSessions({ store: memoryStore(), secret: SECRET, trustProxy: true, sweepInterval: false, csrf: { allowedOrigins: ['https://front.example'] } })
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('POST', 'PUT', 'PATCH', 'DELETE', 'GET', 'post', 'PROPFIND'),
        fc.record({ origin: headerText, 'sec-fetch-site': headerText, host: headerText, 'x-forwarded-host': headerText }, { requiredKeys: [] }),
        async (method, headers) => {
          try {
            await sessions.open(info(method, headers))
          } catch (e) {
            assert.ok(e instanceof CsrfError, String(e))
            assert.equal(e.status, 403)
            assert.ok(!['GET'].includes(method), 'a safe method is never refused')
          }
        },
      ),
      { numRuns: RUNS },
    )
    // The rules themselves, on fixed cases.
    const refused = (headers: Record<string, string>) =>
      sessions.open(info('POST', headers)).then(
        () => false,
        (e: unknown) => e instanceof CsrfError,
      )
    assert.equal(await refused({ 'sec-fetch-site': 'same-origin', origin: 'http://evil.example' }), false)
    assert.equal(await refused({ 'sec-fetch-site': 'same-site' }), true)
    assert.equal(await refused({ origin: 'http://shop.example:8080', host: 'shop.example:8080' }), false)
    assert.equal(await refused({ origin: 'http://SHOP.example', host: 'shop.EXAMPLE:80' }), false, 'case and default ports normalised')
    assert.equal(await refused({ origin: 'http://shop.example:8081', host: 'shop.example:8080' }), true)
    assert.equal(await refused({ origin: 'https://shop.example', host: 'internal:3000', 'x-forwarded-host': 'shop.example, proxy2' }), false)
    assert.equal(await refused({ origin: 'https://front.example', 'sec-fetch-site': 'cross-site' }), false)
    assert.equal(await refused({ origin: 'https://front.example.evil', 'sec-fetch-site': 'cross-site' }), true)
    assert.equal(await refused({ origin: 'http://shop.example' }), true, 'no Host to compare with')
    await sessions.close()
  })

  it('garbage cookies of our name around a valid one never hide it', async () => {
    const sessions = createSessions({ store: memoryStore(), secret: SECRET, sweepInterval: false })
    const rs = await sessions.open(info('GET', {}))
    rs.view.user = 'alice'
    await rs.commit()
    const token = sessions.tokens.issue(rs.session.id)
    const garbage = fc.oneof(
      fc.stringMatching(/^[A-Za-z0-9_.%"-]{0,120}$/),
      fc.constant(`${token.slice(0, -1)}x`),
      fc.constant(sessions.tokens.issue('A'.repeat(32)).replace(/.$/, 'z')),
    )
    await fc.assert(
      fc.asyncProperty(fc.array(garbage, { maxLength: 5 }), fc.array(fc.stringMatching(/^[a-z]{1,6}=[a-z0-9]{0,6}$/), { maxLength: 3 }), async (before, others) => {
        const header = [...others, ...before.map((g) => `sid=${g}`), `sid=${token}`].join('; ')
        const opened = await sessions.open(info('GET', { cookie: header }))
        assert.equal(opened.session.get('user'), 'alice', header)
      }),
      { numRuns: Math.min(RUNS, 500) },
    )
    await sessions.close()
  })
})
