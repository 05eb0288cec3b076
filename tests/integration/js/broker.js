'use strict'
// Starts and stops a real runnel broker for the kafkajs tests: a free loopback
// port, a fresh temp data dir, and a guaranteed stop when the process exits.
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

const live = new Set()

// Ports handed out by this process: the kernel may give a just-closed port
// again, and two listeners given the same port fail to start. Under run.sh
// also every port the run's other suites and test files (node --test runs
// files in processes side by side) were handed: $RUNNEL_IT_PORTS.
const portsHandedOut = new Set()

function claimForTheRun(port) {
  const runPorts = process.env.RUNNEL_IT_PORTS
  if (!runPorts) return true
  try {
    fs.mkdirSync(path.join(runPorts, String(port)))
    return true
  } catch (e) {
    if (e.code === 'EEXIST') return false
    throw e
  }
}

function anyFreePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

async function freePort() {
  for (;;) {
    const port = await anyFreePort()
    if (!portsHandedOut.has(port) && claimForTheRun(port)) {
      portsHandedOut.add(port)
      return port
    }
  }
}

function canConnect(port) {
  return new Promise(resolve => {
    const s = net.connect({ host: '127.0.0.1', port })
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => { s.destroy(); resolve(false) })
  })
}

async function waitPort(port, timeoutMs, proc) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (proc && proc.exitCode !== null) return false
    if (await canConnect(port)) return true
    await new Promise(r => setTimeout(r, 50))
  }
  return false
}

class Broker {
  // args: more command-line arguments, e.g. ['--node-id', '1', '--etcd', url].
  constructor({ sets = {}, args = [] } = {}) {
    this.binary = process.env.RUNNEL_BIN
    if (!this.binary) throw new Error('RUNNEL_BIN is not set')
    this.args = [...args]
    this.sets = { 'num.partitions': 1, 'auto.create.topics.enable': 'true', ...sets }
    this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-js-'))
    this.dataDir = path.join(this.tmp, 'data')
    fs.mkdirSync(this.dataDir)
    this.logPath = path.join(this.tmp, 'broker.log')
    this.proc = null
    this.port = null
  }

  get bootstrap() { return `127.0.0.1:${this.port}` }

  async start() {
    if (this.port === null) this.port = await freePort()
    const args = ['serve', '--data-dir', this.dataDir, '--listen', this.bootstrap, '--admin', 'off', ...this.args]
    for (const [k, v] of Object.entries(this.sets)) args.push('--set', `${k}=${v}`)
    const log = fs.openSync(this.logPath, 'a')
    this.proc = spawn(this.binary, args, { stdio: ['ignore', log, log] })
    fs.closeSync(log)
    this.exitStatus = null
    this.stopping = false
    const proc = this.proc
    proc.once('exit', (code, signal) => {
      this.exitStatus = signal ? `killed by ${signal}` : `exit code ${code}`
      if (!this.stopping) {
        try { fs.appendFileSync(this.logPath, `\n[test harness] broker pid ${proc.pid} died unexpectedly: ${this.exitStatus}\n`) } catch {}
      }
    })
    live.add(this)
    if (process.env.RUNNEL_IT_PIDS) fs.writeFileSync(path.join(process.env.RUNNEL_IT_PIDS, String(this.proc.pid)), '')
    if (!(await waitPort(this.port, 15000, this.proc))) {
      const tail = this.log()
      await this.stop()
      throw new Error(`broker did not start on ${this.bootstrap}:\n${tail}`)
    }
    return this
  }

  alive() { return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null }

  log() {
    try { return fs.readFileSync(this.logPath, 'utf8').slice(-8000) } catch { return '' }
  }

  _forget() {
    if (this.proc && process.env.RUNNEL_IT_PIDS) {
      try { fs.unlinkSync(path.join(process.env.RUNNEL_IT_PIDS, String(this.proc.pid))) } catch {}
    }
    this.proc = null
  }

  async stop() {
    const p = this.proc
    if (!p) return
    this.stopping = true
    if (p.exitCode === null && p.signalCode === null) {
      const exited = new Promise(r => p.once('exit', (code, signal) => r(signal)))
      p.kill('SIGTERM')
      let killed = false
      const timer = setTimeout(() => { killed = true; p.kill('SIGKILL') }, 10000)
      const signal = await exited
      clearTimeout(timer)
      // A signal other than our own SIGKILL ended a clean shutdown: a crash.
      if (signal && !(killed && signal === 'SIGKILL')) this.crashedOnStop = signal
    }
    this._forget()
  }

  async kill9() {
    const p = this.proc
    if (!p) return
    this.stopping = true
    if (p.exitCode === null && p.signalCode === null) {
      const exited = new Promise(r => p.once('exit', r))
      p.kill('SIGKILL')
      await exited
    }
    this._forget()
  }

  // Starts again on the same port and data dir (after stop() or kill9()).
  async restart() {
    if (this.proc) throw new Error('broker is still running')
    return this.start()
  }

  // Stops the broker and removes its directory; throws (after the removal)
  // if a stop of it ended in a crash instead of a clean shutdown.
  async cleanup() {
    await this.stop()
    live.delete(this)
    const crashed = this.crashedOnStop
    const tail = crashed ? this.log() : ''
    this.crashedOnStop = null
    if (!process.env.KEEP_BROKER_LOGS) fs.rmSync(this.tmp, { recursive: true, force: true })
    if (crashed) throw new Error(`broker crashed in its clean shutdown (${crashed}); log tail:\n${tail}`)
  }
}

// Synchronous last resort: no broker outlives the test process.
function killAll() {
  for (const b of live) {
    if (b.proc && b.proc.exitCode === null) { try { b.proc.kill('SIGKILL') } catch {} }
    b._forget()
    if (!process.env.KEEP_BROKER_LOGS) { try { fs.rmSync(b.tmp, { recursive: true, force: true }) } catch {} }
  }
  live.clear()
}
process.on('exit', killAll)
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { killAll(); process.exit(130) })

// ApiVersions v0 over a raw socket: Map apiKey -> [min, max].
function apiVersions(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port })
    const req = Buffer.alloc(4 + 2 + 2 + 4 + 2 + 4)
    req.writeInt32BE(req.length - 4, 0)
    req.writeInt16BE(18, 4) // ApiVersions
    req.writeInt16BE(0, 6)
    req.writeInt32BE(1, 8)
    req.writeInt16BE(4, 12)
    req.write('jsit', 14)
    let buf = Buffer.alloc(0)
    const timer = setTimeout(() => { s.destroy(); reject(new Error('ApiVersions timed out')) }, 5000)
    s.on('connect', () => s.write(req))
    s.on('error', e => { clearTimeout(timer); reject(e) })
    s.on('data', d => {
      buf = Buffer.concat([buf, d])
      if (buf.length < 4 || buf.length < 4 + buf.readInt32BE(0)) return
      clearTimeout(timer)
      s.destroy()
      const apis = new Map()
      const n = buf.readInt32BE(10)
      for (let i = 0; i < n; i++) {
        const o = 14 + i * 6
        apis.set(buf.readInt16BE(o), [buf.readInt16BE(o + 2), buf.readInt16BE(o + 4)])
      }
      resolve(apis)
    })
  })
}

module.exports = { Broker, freePort, waitPort, apiVersions }
