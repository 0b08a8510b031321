// Session affinity: the instance for a request's session cookie is the ring owner of the
// verified session id; no cookie, a forged token or a garbled header give null (the caller
// balances as it likes). The in-place cookie lookup agrees with the manager's cookie parser.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { cookieValue, HashRing, sessionAffinity } from '../../src/cluster/index.js'
import { createSessions } from '../../src/index.js'
import { SECRET } from '../core/helpers.js'

const instances = ['app-1:3000', 'app-2:3000', { id: 'app-3:3000', weight: 2 }]

/** Cookie names and values as browsers send them (no `;`, `=` in names, no spaces inside). */
const cookieName = fc.stringMatching(/^[A-Za-z0-9_.-]{1,8}$/)
const cookiePair = fc.tuple(cookieName, fc.stringMatching(/^[A-Za-z0-9_.=/-]{0,12}$/))
const gap = fc.constantFrom(';', '; ', ';  ', ' ; ')

describe('sessionAffinity', () => {
  const sessions = createSessions({ secret: SECRET, sweepInterval: false })
  const affinity = sessionAffinity({ instances, sessions })
  const ring = new HashRing({ nodes: instances })

  it('routes a valid session cookie to the ring owner of its id, wherever the cookie sits in the header', () => {
    fc.assert(
      fc.property(fc.array(cookiePair, { maxLength: 6 }), fc.nat(), gap, (others, at, sep) => {
        const id = sessions.tokens.newId()
        const pairs = others.filter(([n]) => n !== 'sid').map(([n, v]) => `${n}=${v}`)
        pairs.splice(at % (pairs.length + 1), 0, `sid=${sessions.tokens.issue(id)}`)
        const header = pairs.join(sep)
        assert.equal(affinity.pick(header), ring.owner(id))
        assert.equal(cookieValue(header, 'sid'), sessions.cookie?.read(header))
      }),
      { numRuns: 500 },
    )
  })

  it('finds the same cookie value as the manager’s cookie parser for arbitrary headers', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(cookiePair.map(([n, v]) => `${n}=${v}`), fc.string({ maxLength: 10 })), { maxLength: 6 }), gap, (parts, sep) => {
        const header = parts.join(sep)
        const ours = cookieValue(header, 'sid')
        const theirs = sessions.cookie?.read(header)
        // Percent-decoding and quotes are left to the full parser, which pick() then uses.
        if (ours !== undefined && (ours.includes('%') || ours.includes('"'))) return
        if (theirs !== undefined && theirs.length > 0) assert.equal(ours, theirs)
      }),
      { numRuns: 2_000 },
    )
  })

  it('answers null without a session, for a forged or tampered token, or a token of another secret', () => {
    const id = sessions.tokens.newId()
    const token = sessions.tokens.issue(id)
    const other = createSessions({ secret: `${SECRET}-other`, sweepInterval: false })
    assert.equal(affinity.pick(undefined), null)
    assert.equal(affinity.pick(''), null)
    assert.equal(affinity.pick('theme=dark; lang=en'), null)
    assert.equal(affinity.pick(`sid=${id}.${'A'.repeat(43)}`), null)
    assert.equal(affinity.pick(`sid=${token.slice(0, -1)}x`), null)
    assert.equal(affinity.pick(`sid=${other.tokens.issue(id)}`), null)
    assert.equal(affinity.pick(`xsid=${token}`), null, 'a cookie whose name merely ends in sid')
    assert.equal(affinity.pick(`a=sid=${token}`), null, 'the name inside another cookie’s value')
    // Quoted or percent-encoded values go through the manager's own parser: same answer as a request would get.
    const read = (h: string) => sessions.tokens.read(sessions.cookie?.read(h) ?? '')
    for (const odd of [`sid="${token}"`, `sid=${token.replace('.', '%2E')}`]) {
      const verified = read(odd)
      assert.equal(affinity.pick(odd), verified ? ring.owner(verified.id) : null, odd)
    }
    assert.equal(affinity.pick(`sid=${token.replace('.', '%2E')}`), ring.owner(id), 'percent-encoding is decoded as the manager does')
    assert.equal(affinity.pickToken(token), ring.owner(id))
    assert.equal(affinity.pickToken(undefined), null)
  })

  it('reads __Host-sid (written over HTTPS by default) and, among several session cookies, the first that verifies, as the manager does', () => {
    const id = sessions.tokens.newId()
    const token = sessions.tokens.issue(id)
    const owner = affinity.ring.owner(id)
    assert.equal(affinity.pick(`__Host-sid=${token}`), owner)
    assert.equal(affinity.pick(`sid=garbage; __Host-sid=${token}`), owner)
    assert.equal(affinity.pick(`sid=${token.slice(0, -2)}xx; other=1; sid=${token}`), owner, 'a garbage first cookie does not hide the valid one')
    assert.equal(affinity.pick(`__Host-sid=forged; sid=${token}`), owner)
  })

  it('follows the manager’s cookie name and header-only set-ups', () => {
    const named = createSessions({ secret: SECRET, cookie: { name: 'app_sess', hostPrefix: true }, sweepInterval: false })
    const id = named.tokens.newId()
    const a = sessionAffinity({ instances, sessions: named })
    assert.equal(a.pick(`sid=x; __Host-app_sess=${named.tokens.issue(id)}`), ring.owner(id))
    const headerOnly = createSessions({ secret: SECRET, cookie: false, header: true, sweepInterval: false })
    const h = sessionAffinity({ instances, sessions: headerOnly })
    assert.equal(h.pick(`sid=${headerOnly.tokens.issue(id)}`), null)
    assert.equal(h.pickToken(headerOnly.tokens.issue(id)), ring.owner(id))
  })

  it('spreads sessions by weight, and an instance joining takes only its share', (t) => {
    const ids = Array.from({ length: 20_000 }, () => sessions.tokens.newId())
    const cookies = ids.map((id) => `sid=${sessions.tokens.issue(id)}`)
    const counts = new Map<string, number>()
    for (const c of cookies) {
      const picked = affinity.pick(c) as string
      counts.set(picked, (counts.get(picked) ?? 0) + 1)
    }
    const share = (name: string) => (counts.get(name) ?? 0) / ids.length
    t.diagnostic(`shares: ${[...counts].map(([n, c]) => `${n} ${(c / ids.length).toFixed(3)}`).join(', ')} (weights 1, 1, 2)`)
    assert.ok(Math.abs(share('app-3:3000') - 0.5) < 0.05)
    const before = cookies.map((c) => affinity.pick(c))
    affinity.ring.add('app-4:3000')
    const after = cookies.map((c) => affinity.pick(c))
    const moved = after.filter((a, i) => a !== before[i])
    assert.ok(moved.every((a) => a === 'app-4:3000'), 'sessions move only to the new instance')
    t.diagnostic(`a 4th instance (weight 1 of 5) took ${(moved.length / ids.length).toFixed(3)} of the sessions`)
    assert.ok(Math.abs(moved.length / ids.length - 0.2) < 0.04)
    affinity.ring.remove('app-4:3000')
  })
})
