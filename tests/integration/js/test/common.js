'use strict'
const assert = require('node:assert')
const { execFileSync } = require('node:child_process')
const { Kafka, logLevel } = require('kafkajs')

function makeKafka(bootstrap, extra = {}) {
  return new Kafka({
    clientId: 'runnel-it-js',
    brokers: [bootstrap],
    logLevel: process.env.KAFKAJS_LOG ? logLevel.DEBUG : logLevel.NOTHING,
    connectionTimeout: 3000,
    requestTimeout: 10000,
    retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 3 },
    ...extra,
  })
}

// Reads a partition with kcat (a second, independent client): one object per record
// {offset, key, payload, headers, ts}.
function kcatRead(bootstrap, topic, partition, from = 'beginning') {
  const out = execFileSync('kcat', ['-C', '-q', '-e', '-J', '-b', bootstrap, '-m', '10', '-t', topic,
    '-p', String(partition), '-o', String(from), '-X', 'fetch.wait.max.ms=100'], { timeout: 20000 })
  return out.toString().split('\n').filter(Boolean).map(l => JSON.parse(l))
}

const sleep = ms => new Promise(r => setTimeout(r, ms))

// The Kafka error type behind a kafkajs error, through retries and aggregates.
function errType(err) {
  for (let e = err, depth = 0; e && depth < 6; depth++) {
    if (e.type) return e.type
    if (Array.isArray(e.errors) && e.errors.length) e = e.errors[0]
    else if (Array.isArray(e.partitions) && e.partitions.length && e.partitions[0].error) e = e.partitions[0].error
    else e = e.originalError || e.cause
  }
  return undefined
}

// Clients that must not outlive a test file even when a test fails half-way (a
// running kafkajs consumer would otherwise keep retrying and the process alive).
const tracked = new Set()
function track(client) { tracked.add(client); return client }
async function disconnectAll() {
  const all = [...tracked]
  tracked.clear()
  await Promise.race([Promise.allSettled(all.map(c => c.disconnect())), sleep(5000)])
}

// Polls `cond` every 100 ms until it holds; fails the test after `timeoutMs`.
async function waitFor(cond, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await cond()) return
    await sleep(100)
  }
  assert.fail(`timed out waiting for ${what}`)
}

module.exports = { makeKafka, kcatRead, sleep, errType, track, disconnectAll, waitFor }
