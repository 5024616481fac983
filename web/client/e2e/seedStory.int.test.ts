// The seed story in headless Chromium, one browser context per person, against the whole
// stack (cluster, MariaDB, Redis, projections, web). Then XSS payloads, and a scan of
// everything the server side stored for the plaintexts used. Screenshots: screenshots/.
import t from 'tap'
import { mkdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { buildClient } from '../build.ts'
import { gradientPng, pdfMarker, samplePdf } from './samples.ts'
import { startStack, type Stack } from './stack.ts'

t.setTimeout(600_000)
const shots = resolve('screenshots')
mkdirSync(shots, { recursive: true })
const password = 'correct horse battery staple'
const secret = {
  threadName: 'Project Discussion',
  kickoff: 'Kickoff notes: launch window moves to the 14th (zq81)',
  bobReply: 'Bob agrees with the 14th (mw52)',
  daveWelcome: 'Welcome aboard Dave, budget review next (hp07)',
  afterRemoval: 'Carol must not read this (vx93)',
  imageName: 'whiteboard-sketch-kt4.png',
  pdfName: 'budget-q3-rr6.pdf',
  xssThread: '<img src=x onerror="window.__xss=1">Launch<b>',
  xssText: '<script>window.__xss=2</script><img src=x onerror="window.__xss=3">',
  xssFile: '<img src=x onerror=window.__xss=4>notes.txt',
  xssFileBody: 'plain text notes body (tn55)',
}
const png = gradientPng()
const pdf = samplePdf()

let stack: Stack
let browser: Browser
const pageErrors: string[] = []
const started = Date.now()

t.before(async () => {
  await buildClient({ minify: true })
  stack = await startStack()
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  })
})
const people: Person[] = []
t.teardown(async () => {
  for (const p of people) await p.page.screenshot({ path: join(shots, `last-${p.name}.png`) }).catch(() => {})
  await browser?.close()
  await stack?.stop()
})

type Person = { name: string; ctx: BrowserContext; page: Page }

async function person(name: string): Promise<Person> {
  const ctx = await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 760 } })
  const page = await ctx.newPage()
  page.setDefaultTimeout(60_000)
  page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`))
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) pageErrors.push(`${name}: ${m.text()}`)
  })
  await page.goto(stack.url)
  const p = { name, ctx, page }
  people.push(p)
  return p
}

async function shot(p: Page, name: string): Promise<void> {
  const path = join(shots, `${name}.png`)
  await p.screenshot({ path })
  t.comment(`screenshot: ${path}`)
}

async function register(p: Person): Promise<void> {
  const f = p.page.locator('form[aria-labelledby="reg-h"]')
  await f.locator('input[name=username]').fill(p.name)
  await f.locator('input[name=email]').fill(`${p.name}@example.org`)
  await f.locator('input[name=password]').fill(password)
  await f.locator('button[type=submit]').click()
  await p.page.locator('#me', { hasText: p.name }).waitFor({ timeout: 120_000 })
}

async function verifyAndUnlock(p: Person): Promise<void> {
  await p.page.goto(await stack.verifyLink(`${p.name}@example.org`))
  await p.page.locator('.notice', { hasText: 'verified' }).waitFor()
  await unlock(p)
}

async function unlock(p: Person): Promise<void> {
  await p.page.locator('input[name=password]').fill(password)
  await p.page.locator('button', { hasText: 'Unlock' }).click()
  await p.page.locator('#me', { hasText: p.name }).waitFor({ timeout: 60_000 })
}

const threadButton = (p: Person, name: string) => p.page.locator('button.thread', { hasText: name })
const messageText = (p: Person, text: string) => p.page.locator('ol.messages li.msg .text', { hasText: text })

async function openThread(p: Person, name: string): Promise<void> {
  await threadButton(p, name).click()
  await p.page.locator('#thread-title', { hasText: name }).waitFor()
}

async function send(p: Person, text: string): Promise<void> {
  await p.page.locator('form.composer textarea').fill(text)
  await p.page.locator('form.composer #send').click()
  await messageText(p, text).waitFor()
}

async function sendFile(p: Person, name: string, mimeType: string, buffer: Uint8Array): Promise<void> {
  await p.page.locator('form.composer input[type=file]').setInputFiles({ name, mimeType, buffer: Buffer.from(buffer) })
  await p.page.locator('form.composer #send').click()
}

async function members(p: Person): Promise<void> {
  await p.page.locator('#members-btn').click()
  await p.page.locator('#mem-h').waitFor()
}

t.test('the seed story in separate browsers', { timeout: 420_000 }, async (t) => {
  const [alice, bob, carol, dave] = await Promise.all(['alice', 'bob', 'carol', 'dave'].map(person)) as [Person, Person, Person, Person]
  let at = Date.now()
  await Promise.all([alice, bob, carol, dave].map(register))
  t.comment(`4 registrations in the browser (SLH-DSA keys + signatures in a worker, scrypt): ${Date.now() - at} ms`)
  await shot(alice.page, '01-alice-registered')
  at = Date.now()
  await Promise.all([alice, bob, carol, dave].map(verifyAndUnlock))
  t.comment(`4 e-mail verifications + unlocks: ${Date.now() - at} ms`)
  t.equal(await alice.page.locator('.warn', { hasText: 'not verified' }).count(), 0, 'Alice no longer sees the unverified warning')

  // Alice creates "Project Discussion" with Bob and Carol.
  at = Date.now()
  await alice.page.locator('#new-thread').click()
  await alice.page.locator('input[name=name]').fill(secret.threadName)
  await alice.page.locator('input[name=members]').fill('bob, carol')
  await alice.page.locator('button', { hasText: 'Create' }).click()
  await alice.page.locator('#thread-title', { hasText: secret.threadName }).waitFor()
  t.comment(`thread created with MLS group + Welcome: ${Date.now() - at} ms`)
  for (const p of [bob, carol]) await threadButton(p, secret.threadName).waitFor()
  t.comment(`name readable by Bob and Carol after ${Date.now() - at} ms`)
  t.pass('Bob and Carol see the thread, its encrypted name readable to them')
  await openThread(bob, secret.threadName)
  await openThread(carol, secret.threadName)

  at = Date.now()
  await send(alice, secret.kickoff)
  await Promise.all([bob, carol].map((p) => messageText(p, secret.kickoff).waitFor()))
  t.comment(`message live in two other browsers after ${Date.now() - at} ms`)
  t.pass('Alice’s message arrives live in Bob’s and Carol’s pages')
  await send(bob, secret.bobReply)
  await messageText(alice, secret.bobReply).waitFor()
  await shot(bob.page, '02-bob-live-messages')

  // Carol sends an image, shown inline; Alice sends a PDF that Bob downloads.
  await sendFile(carol, secret.imageName, 'image/png', png)
  for (const p of [alice, bob]) {
    const img = p.page.locator(`img[alt="Image ${secret.imageName}"]`)
    await img.waitFor()
    await p.page.waitForFunction((alt) => {
      const el = document.querySelector(`img[alt="${alt}"]`) as HTMLImageElement | null
      return el !== null && el.complete && el.naturalWidth === 96
    }, `Image ${secret.imageName}`)
  }
  t.pass('Carol’s image is decrypted and shown inline (96×64) for Alice and Bob')
  await shot(alice.page, '03-alice-image-inline')
  await sendFile(alice, secret.pdfName, 'application/pdf', pdf)
  const dlButton = bob.page.locator('button.download', { hasText: secret.pdfName })
  await dlButton.waitFor()
  const [download] = await Promise.all([bob.page.waitForEvent('download'), dlButton.click()])
  t.equal(download.suggestedFilename(), secret.pdfName, 'the download keeps the file name')
  const got = readFileSync((await download.path())!)
  t.ok(got.equals(Buffer.from(pdf)), `Bob’s downloaded PDF is byte-identical (${got.length} bytes)`)
  await shot(bob.page, '04-bob-pdf-link')

  // Alice adds Dave; he reads new messages.
  at = Date.now()
  await members(alice)
  await alice.page.locator('input[name=username]').fill('dave')
  await alice.page.locator('button', { hasText: /^Add$/ }).click()
  await alice.page.locator('ul.members li', { hasText: 'dave' }).waitFor()
  t.comment(`Dave added (AddMember, claim, commit + Welcome, rename): ${Date.now() - at} ms`)
  await threadButton(dave, secret.threadName).waitFor()
  await openThread(dave, secret.threadName)
  await openThread(alice, secret.threadName)
  await send(alice, secret.daveWelcome)
  await messageText(dave, secret.daveWelcome).waitFor()
  t.equal(await messageText(dave, secret.kickoff).count(), 0, 'Dave does not see messages from before he joined')
  await shot(dave.page, '05-dave-joined')

  // Alice removes Carol; Carol cannot read what comes after.
  at = Date.now()
  await members(alice)
  await alice.page.locator('button[aria-label="Remove carol"]').click()
  await alice.page.locator('ul.members li', { hasText: 'carol' }).waitFor({ state: 'detached' })
  t.comment(`Carol removed (RemoveMember + commit): ${Date.now() - at} ms`)
  await carol.page.locator('.banner', { hasText: 'no longer a member' }).waitFor()
  await openThread(alice, secret.threadName)
  await send(alice, secret.afterRemoval)
  await Promise.all([bob, dave].map((p) => messageText(p, secret.afterRemoval).waitFor()))
  await carol.page.waitForTimeout(1500)
  t.equal(await messageText(carol, secret.afterRemoval).count(), 0, 'Carol’s page never shows the message sent after her removal')
  t.equal(await messageText(carol, secret.kickoff).count(), 1, 'Carol keeps the history she could read')
  t.equal(await carol.page.locator('form.composer #send').isDisabled(), true, 'Carol can no longer write')
  await shot(carol.page, '06-carol-removed')

  // Bob hides the thread; Alice and Dave keep it.
  await bob.page.locator('#hide-btn').click()
  await threadButton(bob, secret.threadName).waitFor({ state: 'detached' })
  t.pass('the thread left Bob’s list')
  await bob.page.reload()
  await unlock(bob)
  await bob.page.waitForTimeout(500)
  t.equal(await threadButton(bob, secret.threadName).count(), 0, 'still hidden for Bob after a reload')
  await shot(bob.page, '07-bob-hidden')
  t.equal(await threadButton(alice, secret.threadName).count(), 1, 'Alice keeps it')
  t.equal(await threadButton(dave, secret.threadName).count(), 1, 'Dave keeps it')

  // An admin edits a user.
  const admin = await person('root')
  const { keyFileJson } = await stack.createAdmin('root', 'root@example.org', password)
  const imp = admin.page.locator('form[aria-labelledby="imp-h"]')
  await imp.locator('input[type=file]').setInputFiles({ name: 'admin-root.zixtkey.json', mimeType: 'application/json', buffer: Buffer.from(keyFileJson) })
  await imp.locator('input[name=passphrase]').fill(password)
  await imp.locator('button[type=submit]').click()
  await admin.page.locator('.notice', { hasText: 'imported' }).waitFor()
  await admin.page.locator('form[aria-labelledby="login-h"] input[name=password]').fill(password)
  await admin.page.locator('form[aria-labelledby="login-h"] button[type=submit]').click()
  await admin.page.locator('#admin-btn').click()
  await admin.page.locator('button[aria-label="Edit carol"]').click()
  await admin.page.locator('form[aria-labelledby="ed-h"] input[name=email]').fill('carol.new@example.org')
  await admin.page.locator('form[aria-labelledby="ed-h"] button[type=submit]').click()
  await admin.page.locator('tr', { hasText: 'carol' }).locator('.u-email', { hasText: 'carol.new@example.org' }).waitFor()
  t.pass('the admin changed Carol’s e-mail and the user list shows it')
  await shot(admin.page, '08-admin-edited-user')

  // A reload keeps the history readable (decrypted once, kept encrypted in IndexedDB).
  await alice.page.reload()
  await unlock(alice)
  await openThread(alice, secret.threadName)
  for (const text of [secret.kickoff, secret.bobReply, secret.daveWelcome, secret.afterRemoval]) await messageText(alice, text).waitFor()
  await alice.page.locator(`img[alt="Image ${secret.imageName}"]`).waitFor()
  t.pass('after a reload Alice reads the whole history, image included')
  await shot(alice.page, '09-alice-after-reload')

  // XSS payloads in a thread name, a message and a file name render as text.
  await alice.page.locator('#new-thread').click()
  await alice.page.locator('input[name=name]').fill(secret.xssThread)
  await alice.page.locator('input[name=members]').fill('bob')
  await alice.page.locator('button', { hasText: 'Create' }).click()
  await alice.page.locator('#thread-title', { hasText: secret.xssThread }).waitFor()
  await send(alice, secret.xssText)
  await sendFile(alice, secret.xssFile, 'text/plain', new TextEncoder().encode(secret.xssFileBody))
  await threadButton(bob, 'Launch').waitFor()
  await openThread(bob, secret.xssThread)
  await messageText(bob, secret.xssText).waitFor()
  await bob.page.locator('button.download', { hasText: secret.xssFile }).waitFor()
  for (const p of [alice, bob]) {
    t.equal(await p.page.evaluate(() => (window as { __xss?: unknown }).__xss), undefined, `${p.name}: no payload ran`)
    t.equal(await p.page.locator('img[src=x], #app script, #app b').count(), 0, `${p.name}: no element was injected`)
  }
  t.equal(await bob.page.locator('#thread-title').textContent(), secret.xssThread, 'the thread name shows literally')
  await shot(bob.page, '10-bob-xss-inert')

  // The 15 MiB limit is checked before anything is encrypted or uploaded.
  await sendFile(alice, 'too-big.pdf', 'application/pdf', new Uint8Array(15 * 1024 * 1024 + 1))
  await alice.page.locator('form.composer .error', { hasText: 'the limit is 15 MiB' }).waitFor()
  t.pass('a file over 15 MiB is refused in the page with a clear message')

  // Settings: Bob compares Alice's key fingerprint with the one Alice sees.
  await alice.page.locator('button', { hasText: 'Settings' }).click()
  const aliceFp = (await alice.page.locator('#my-fp').textContent())!.trim()
  await bob.page.locator('button', { hasText: 'Settings' }).click()
  await bob.page.locator('input[name=contact]').fill('alice')
  await bob.page.locator('button', { hasText: 'Show fingerprint' }).click()
  await bob.page.locator('code.fp', { hasText: aliceFp }).first().waitFor()
  t.match(aliceFp, /^([0-9A-F]{4} ){9}[0-9A-F]{4}$/, 'Bob sees the same identity fingerprint Alice sees on her device')
  await shot(bob.page, '11-bob-settings-fingerprint')

  t.same(pageErrors, [], 'no page errors and no CSP violations')
  t.comment(`browser story: ${Date.now() - started} ms`)
})

t.test('the server side holds none of the plaintexts', { timeout: 120_000 }, async (t) => {
  const { mysql, redis, files } = await stack.dumpEverything()
  t.ok(mysql.length > 10_000 && files.some((f) => f.path.endsWith('.seg')), `scanned a ${mysql.length}-byte MySQL dump, ${redis.length} bytes of Redis values, ${files.length} files (${files.filter((f) => f.path.endsWith('.seg')).length} ledger segments, ${files.filter((f) => f.path.includes('/blobs/')).length} blobs)`)
  const needles: [string, Buffer][] = [
    ...Object.entries(secret).map(([k, v]) => [k, Buffer.from(v)] as [string, Buffer]),
    ['pdf text', Buffer.from(pdfMarker)],
    ['png bytes', Buffer.from(png.subarray(40, 104))],
    ['pdf bytes', Buffer.from(pdf.subarray(0, 64))],
  ]
  const haystacks: [string, Buffer][] = [['mysqldump', mysql], ['redis', redis], ...files.map((f) => [f.path, f.bytes] as [string, Buffer])]
  // Positive control: what is public by design (usernames) is found, so the scan really reads these bytes.
  for (const [where, hay] of haystacks.slice(0, 1)) t.ok(hay.includes(Buffer.from('dave')), `control: the username "dave" is visible in the ${where}`)
  t.ok(files.some((f) => f.path.endsWith('.seg') && f.bytes.includes(Buffer.from('dave'))), 'control: and in the ledger segments')
  const found: string[] = []
  for (const [what, needle] of needles) {
    for (const [where, hay] of haystacks) if (hay.includes(needle) || hay.includes(Buffer.from(needle.toString('base64url')))) found.push(`${what} in ${where}`)
  }
  t.same(found, [], 'no message, file content, file name or thread name in clear anywhere')
})
