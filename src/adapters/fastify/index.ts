import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { failureResponse } from '../../core/failure.js'
import type { Sessions } from '../../core/manager.js'
import type { RequestSession } from '../../core/request.js'
import type { SessionView } from '../../core/view.js'
import { nodeRequestInfo } from '../node/lifecycle.js'

declare module 'fastify' {
  interface FastifyRequest {
    session: SessionView
    sessionID: string
  }
}

const lifecycle = Symbol('sessionmesh.request')
type WithLifecycle = FastifyRequest & { [lifecycle]?: RequestSession }

function sendFailure(reply: FastifyReply, error: unknown) {
  const f = failureResponse(error)
  return reply.code(f.status).headers(f.headers).send(f.body)
}

/**
 * Fastify plugin: `request.session` loaded in `onRequest`, saved in `onSend` (before the
 * payload goes out, redirects included).
 *
 * @example
 * import Fastify from 'fastify'
 * import { session } from 'sessionmesh/fastify'
 * const app = Fastify()
 * await app.register(session(sessions))
 * app.get('/', async (request) => ({ user: request.session.get('user') ?? null }))
 */
export function session(sessions: Sessions): FastifyPluginAsync {
  const plugin: FastifyPluginAsync = async function sessionPlugin(fastify) {
    fastify.decorateRequest('session', null as unknown as SessionView)
    // A getter decorator, so it follows regenerate() without a per-request defineProperty.
    fastify.decorateRequest('sessionID', {
      getter(this: FastifyRequest) {
        return (this.session as SessionView | null)?.id ?? ''
      },
    })
    fastify.addHook('onRequest', async (request: WithLifecycle, reply) => {
      let rs: RequestSession
      try {
        const info = nodeRequestInfo(request.raw)
        if (request.protocol === 'https') info.encrypted = true
        rs = await sessions.open(info)
      } catch (error) {
        return sendFailure(reply, error)
      }
      request[lifecycle] = rs
      request.session = rs.view
    })
    fastify.addHook('onSend', async (request: WithLifecycle, reply, payload) => {
      const rs = request[lifecycle]
      if (!rs) return payload
      request[lifecycle] = undefined // an error page sent after a failed commit must not commit again
      try {
        if (!rs.commitIfIdle()) await rs.commit()
      } catch (error) {
        sessions.events.reportError(error as Error)
        const f = failureResponse(error)
        reply.code(f.status).headers(f.headers)
        reply.removeHeader('set-cookie')
        return f.body
      }
      for (const [name, value] of rs.responseHeaders()) {
        // Fastify appends Set-Cookie values itself (a response may carry two: __Host-sid and
        // the clearing of sid); any other header it replaces, so those are merged here.
        if (name === 'set-cookie') {
          reply.header(name, value)
          continue
        }
        const prev = reply.getHeader(name)
        reply.header(name, prev === undefined ? value : ([] as unknown[]).concat(prev, value))
      }
      return payload
    })
  }
  return fp(plugin, { name: 'sessionmesh', fastify: '5.x' })
}

export type { SessionView }
