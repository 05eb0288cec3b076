'use strict'
// A local runnel cluster for the kafkajs tests: a real etcd (Debian's etcd-server,
// as python/etcd.py starts it) and N brokers from broker.js, each on free loopback
// ports with its own temp data dir. Everything is killed when the process exits,
// also when a test fails half-way.
//
//   const c = await new Cluster(3, { sets }).start()
//   c.bootstrapList, c.brokers.get(1).kill9(), c.brokers.get(1).restart(), await c.metadata(1, ['t'])
//   await c.cleanup()
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const http = require('node:http')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { Broker, freePort } = require('./broker')

const ETCD = '/usr/bin/etcd'
const liveEtcds = new Set()
const sleep = ms => new Promise(r => setTimeout(r, ms))

function etcdAvailable() {
  try { fs.accessSync(ETCD, fs.constants.X_OK); return true } catch { return false }
}

function etcdPing(url) {
  return new Promise(resolve => {
    const req = http.request(url + '/v3/kv/range', { method: 'POST', timeout: 1000 }, res => {
      res.resume()
      res.on('end', () => resolve(res.statusCode === 200))
    })
    req.on('error', () => resolve(false))
    req.on('timeout', () => { req.destroy(); resolve(false) })
    req.end('{"key":"AA=="}')
  })
}

class Etcd {
  constructor() {
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-etcd-'))
    this.proc = null
  }

  get url() { return `http://127.0.0.1:${this.clientPort}` }

  async start() {
    this.clientPort = await freePort()
    this.peerPort = await freePort()
    const peer = `http://127.0.0.1:${this.peerPort}`
    const args = ['--name=it', `--data-dir=${path.join(this.tmp, 'data')}`,
      `--listen-client-urls=${this.url}`, `--advertise-client-urls=${this.url}`,
      `--listen-peer-urls=${peer}`, `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=it=${peer}`, `--log-outputs=${path.join(this.tmp, 'etcd.log')}`, '--logger=zap']
    this.proc = spawn(ETCD, args, { stdio: 'ignore' })
    liveEtcds.add(this)
    if (process.env.RUNNEL_IT_PIDS) fs.writeFileSync(path.join(process.env.RUNNEL_IT_PIDS, String(this.proc.pid)), '')
    const deadline = Date.now() + 15000
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) break
      if (await etcdPing(this.url)) return this
      await sleep(100)
    }
    await this.cleanup()
    throw new Error(`etcd did not start on ${this.url}`)
  }

  _killSync() {
    const p = this.proc
    if (!p) return
    if (p.exitCode === null && p.signalCode === null) { try { p.kill('SIGKILL') } catch {} }
    if (process.env.RUNNEL_IT_PIDS) {
      try { fs.unlinkSync(path.join(process.env.RUNNEL_IT_PIDS, String(p.pid))) } catch {}
    }
    this.proc = null
  }

  async stop() {
    const p = this.proc
    if (!p) return
    if (p.exitCode === null && p.signalCode === null) {
      const exited = new Promise(r => p.once('exit', r))
      this._killSync()
      await exited
    }
    this._killSync()
  }

  async cleanup() {
    await this.stop()
    liveEtcds.delete(this)
    if (!process.env.KEEP_BROKER_LOGS) fs.rmSync(this.tmp, { recursive: true, force: true })
  }
}

// broker.js kills its brokers on exit; this does the same for etcd.
process.on('exit', () => {
  for (const e of liveEtcds) {
    e._killSync()
    if (!process.env.KEEP_BROKER_LOGS) { try { fs.rmSync(e.tmp, { recursive: true, force: true }) } catch {} }
  }
  liveEtcds.clear()
})

// Metadata v1 over a raw socket to one broker (no client cache, no retries):
// { brokers: [nodeId...], controller, topics: { name: { error, partitions: { p: { error, leader, replicas, isr } } } } }
function metadataV1(port, topics = null, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const parts = []
    const i16 = v => { const b = Buffer.alloc(2); b.writeInt16BE(v); return b }
    const i32 = v => { const b = Buffer.alloc(4); b.writeInt32BE(v); return b }
    const str = s => Buffer.concat([i16(Buffer.byteLength(s)), Buffer.from(s)])
    parts.push(i16(3), i16(1), i32(7), str('jsit'))
    if (topics === null) parts.push(i32(-1))
    else { parts.push(i32(topics.length)); for (const t of topics) parts.push(str(t)) }
    const body = Buffer.concat(parts)
    const req = Buffer.concat([i32(body.length), body])
    const s = net.connect({ host: '127.0.0.1', port })
    let buf = Buffer.alloc(0)
    const timer = setTimeout(() => { s.destroy(); reject(new Error('Metadata timed out')) }, timeoutMs)
    s.on('connect', () => s.write(req))
    s.on('error', e => { clearTimeout(timer); reject(e) })
    s.on('close', () => { clearTimeout(timer); reject(new Error('connection closed')) })
    s.on('data', d => {
      buf = Buffer.concat([buf, d])
      if (buf.length < 4 || buf.length < 4 + buf.readInt32BE(0)) return
      clearTimeout(timer)
      s.removeAllListeners('close')
      s.destroy()
      try {
        let o = 8 // size, correlation id
        const r16 = () => { const v = buf.readInt16BE(o); o += 2; return v }
        const r32 = () => { const v = buf.readInt32BE(o); o += 4; return v }
        const rstr = () => { const n = r16(); if (n < 0) return null; const v = buf.toString('utf8', o, o + n); o += n; return v }
        const brokers = []
        for (let n = r32(), i = 0; i < n; i++) { brokers.push(r32()); rstr(); r32(); rstr() }
        const controller = r32()
        const out = {}
        for (let n = r32(), i = 0; i < n; i++) {
          const error = r16(); const name = rstr(); o += 1 // is_internal
          const partitions = {}
          for (let m = r32(), j = 0; j < m; j++) {
            const perr = r16(); const p = r32(); const leader = r32()
            const replicas = []; for (let k = r32(), x = 0; x < k; x++) replicas.push(r32())
            const isr = []; for (let k = r32(), x = 0; x < k; x++) isr.push(r32())
            partitions[p] = { error: perr, leader, replicas, isr }
          }
          out[name] = { error, partitions }
        }
        resolve({ brokers, controller, topics: out })
      } catch (e) { reject(e) }
    })
  })
}

class Cluster {
  constructor(size = 3, { sets = {} } = {}) {
    this.size = size
    this.sets = { ...sets }
    this.etcd = new Etcd()
    this.brokers = new Map()
  }

  async start() {
    await this.etcd.start()
    for (let n = 1; n <= this.size; n++) {
      const b = new Broker({ sets: this.sets, args: ['--node-id', String(n), '--etcd', this.etcd.url] })
      this.brokers.set(n, b)
      await b.start()
    }
    const want = [...this.brokers.keys()].join(',')
    const deadline = Date.now() + 30000
    for (;;) {
      const views = await Promise.all([...this.brokers.keys()].map(n => this.metadata(n)))
      if (views.every(v => v && [...v.brokers].sort((a, b) => a - b).join(',') === want)) return this
      if (Date.now() > deadline) throw new Error(`the brokers did not see each other: ${JSON.stringify(views)}`)
      await sleep(100)
    }
  }

  // All live brokers' addresses (for a client's `brokers` list).
  get bootstrapList() { return [...this.brokers.values()].filter(b => b.alive()).map(b => b.bootstrap) }

  // Metadata v1 from one broker, or null if it does not answer.
  async metadata(nodeId, topics = null) {
    const b = this.brokers.get(nodeId)
    if (!b || !b.alive()) return null
    try { return await metadataV1(b.port, topics) } catch { return null }
  }

  // {partition: {error, leader, replicas, isr}} of one topic as one broker sees it ({} if unknown).
  async partitions(nodeId, topic) {
    const v = await this.metadata(nodeId, [topic])
    return (v && v.topics[topic] && v.topics[topic].partitions) || {}
  }

  async cleanup() {
    const results = await Promise.allSettled([...this.brokers.values()].map(b => b.cleanup()))
    await this.etcd.cleanup()
    const failed = results.find(r => r.status === 'rejected')
    if (failed) throw failed.reason
  }
}

module.exports = { Cluster, Etcd, etcdAvailable, metadataV1, ETCD }
