/**
 * The demo shop in a real browser (system Chromium through playwright-core): log in, add to
 * the cart, check out, see two devices, watch the dashboard's chart and event feed, and log
 * out everywhere, which logs out the other device too. Then cross-site request forgery:
 * pages on another port (same-site) and another site post forms to the shop and are refused.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { type Browser, chromium, type Page } from 'playwright-core'
import { type Shop, startShop } from './harness.js'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

describe('the demo shop in Chromium', { skip: !existsSync(CHROMIUM) && `no Chromium at ${CHROMIUM} (apt-get install chromium)` }, () => {
  let shop: Shop
  let browser: Browser
  const pageErrors: string[] = []
  before(async () => {
    shop = await startShop()
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    })
  }, { timeout: 120_000 })
  after(async () => {
    await browser?.close()
    await shop?.stop()
  })

  const open = async (path: string, userAgent: string): Promise<Page> => {
    const context = await browser.newContext({ userAgent })
    const page = await context.newPage()
    page.on('pageerror', (e) => pageErrors.push(`${path}: ${e.message}`))
    await page.goto(new URL(path, shop.url).href)
    return page
  }
  // Page-side predicates are strings: tsx would compile functions with helpers the page
  // lacks, and this project's types have no DOM.
  const until = (page: Page, predicate: string) => page.waitForFunction(predicate)
  const text = (page: Page, selector: string, expected: string) =>
    until(page, `document.querySelector(${JSON.stringify(selector)})?.textContent?.includes(${JSON.stringify(expected)})`)
  const feedHas = (page: Page, type: string, expected: string) =>
    until(page, `[...document.querySelectorAll('#feed li.t-${type}')].some((li) => li.textContent.includes(${JSON.stringify(expected)}))`)

  it('login, cart, checkout, devices, dashboard and log-out-everywhere', async () => {
    const laptop = await open('/', 'Laptop browser')
    await laptop.fill('input[name=username]', 'alice')
    await laptop.fill('input[name=password]', 'wrong')
    await laptop.click('#login button')
    await text(laptop, '#login-error', 'bad credentials')
    await laptop.fill('input[name=password]', 'alice-pass')
    await laptop.click('#login button')
    await text(laptop, '#whoami', 'logged in as alice')

    await laptop.selectOption('#products li:has(button[data-sku=mug]) select', '3')
    await laptop.click('button[data-sku=mug]')
    await text(laptop, '#cart-count', '3')
    await laptop.click('button[data-sku=tee]')
    await text(laptop, '#cart-count', '4')
    await laptop.click('#checkout')
    await laptop.locator('#orders li.order').first().waitFor()
    assert.match((await laptop.locator('#orders li.order').first().textContent()) ?? '', /4 items/)
    await text(laptop, '#cart-count', '0')
    assert.match((await laptop.locator('#served').textContent()) ?? '', /orders-[12]/, 'the page shows which instance answered')

    const phone = await open('/', 'Phone browser')
    await phone.click('#login button')
    await text(phone, '#whoami', 'logged in as alice')
    await laptop.reload()
    await until(laptop, `document.querySelectorAll('#devices li.device').length === 2`)
    const devices = await laptop.locator('#devices li.device').allTextContents()
    assert.ok(devices.some((d) => d.includes('Laptop browser') && d.includes('this device')))
    assert.ok(devices.some((d) => d.includes('Phone browser') && !d.includes('this device')))

    const dashboard = await open('/dashboard', 'Dashboard browser')
    // Bars with a real size: the live sessions drawn per instance and per store node.
    const widths = (id: string) => `[...document.querySelectorAll('#${id} rect.bar')].map((r) => r.getBoundingClientRect().width)`
    await until(dashboard, `${widths('instances-chart')}.length === 6 && ${widths('instances-chart')}.some((w) => w > 0) && ${widths('store-chart')}.some((w) => w > 0)`)
    await until(dashboard, `Number(document.getElementById('live').textContent) >= 2`)
    await text(dashboard, '#routing', 'round-robin')
    await text(dashboard, '#near-cache', 'n/a')
    await text(dashboard, '#rings', 'cart-1')
    await feedHas(dashboard, 'created', 'user:alice')

    await laptop.click('#logout-all')
    await text(laptop, '#whoami', 'not logged in')
    await phone.reload()
    await text(phone, '#whoami', 'not logged in')
    await feedHas(dashboard, 'destroyed', 'revoked')
    assert.deepEqual(pageErrors, [])
  })

  it('forms posted from another port (same-site) or another site are refused with 403 and change nothing; the shop\'s own fetch works', async () => {
    // The attacker's page auto-submits a form to the shop route named in its query string.
    const attacker: Server = createServer((req, res) => {
      const route = new URL(req.url ?? '/', 'http://attacker').searchParams.get('to') ?? ''
      const action = new URL(route, shop.url).href
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      res.end(`<!doctype html><form method="POST" action="${action}"><input name="x" value="1"></form><script>document.forms[0].submit()</script>`)
    })
    await new Promise<void>((resolve) => attacker.listen(0, resolve))
    try {
      const port = (attacker.address() as AddressInfo).port
      const victim = await open('/', 'Victim browser')
      await victim.fill('input[name=username]', 'alice')
      await victim.fill('input[name=password]', 'alice-pass')
      await victim.click('#login button')
      await text(victim, '#whoami', 'logged in as alice')
      await victim.click('button[data-sku=mug]')
      await text(victim, '#cart-count', '1')

      // The shop runs on localhost: localhost on another port is the same site (its cookies,
      // SameSite=Lax, go along), 127.0.0.1 is another site.
      for (const origin of [`http://localhost:${port}`, `http://127.0.0.1:${port}`]) {
        for (const route of ['/api/orders', '/api/auth/logout-all']) {
          const page = await victim.context().newPage()
          const target = new URL(route, shop.url).href
          const answered = page.waitForResponse((r) => r.url() === target)
          await page.goto(`${origin}/?to=${encodeURIComponent(route)}`)
          const response = await answered
          assert.equal(response.status(), 403, `${origin} -> ${route}`)
          assert.equal(((await response.json()) as { code?: string }).code, 'CSRF')
          await page.close()
        }
      }

      await victim.reload()
      await text(victim, '#whoami', 'logged in as alice')
      await text(victim, '#cart-count', '1')
      assert.equal(await victim.locator('#orders li.order').count(), 0, 'no order was placed')
      // The shop's own pages (same-origin fetch) still do all of it.
      await victim.click('#checkout')
      await victim.locator('#orders li.order').first().waitFor()
      await text(victim, '#cart-count', '0')
      await victim.click('#logout-all')
      await text(victim, '#whoami', 'not logged in')
      assert.deepEqual(pageErrors, [])
    } finally {
      await new Promise<void>((resolve) => attacker.close(() => resolve()))
    }
  })
})
