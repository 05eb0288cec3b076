'use strict'
// kafkajs consumption always goes through a consumer group. These tests run only
// when the broker advertises the group APIs (FindCoordinator, JoinGroup, SyncGroup,
// Heartbeat, OffsetCommit, OffsetFetch); until then they are skipped.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { Broker, apiVersions } = require('../broker')
const { makeKafka, sleep, track, disconnectAll } = require('./common')

const GROUP_APIS = [10, 11, 14, 12, 8, 9, 13]
let broker, kafka, admin, skip = false

before(async () => {
  broker = await new Broker({ sets: { 'num.partitions': 2, 'auto.create.topics.enable': 'true' } }).start()
  const apis = await apiVersions(broker.port)
  const missing = GROUP_APIS.filter(k => !apis.has(k))
  if (missing.length) skip = `consumer groups: issue 3 (broker lacks api keys ${missing.join(',')})`
  kafka = makeKafka(broker.bootstrap)
  admin = kafka.admin()
  await admin.connect()
})

after(async () => {
  await disconnectAll()
  if (admin) await admin.disconnect().catch(() => {})
  const alive = broker && broker.alive()
  const log = broker ? broker.log() : ''
  if (broker) await broker.cleanup()
  assert.ok(alive, 'broker died during the consumer tests:\n' + log)
})

function groupTest(name, fn) {
  test(name, async t => {
    if (skip) return t.skip(skip)
    await fn(t)
  })
}

async function produce(topic, messages) {
  const p = kafka.producer({ idempotent: false })
  await p.connect()
  try { await p.send({ topic, acks: -1, messages }) } finally { await p.disconnect() }
}

function consumerOpts(groupId) {
  return {
    groupId,
    sessionTimeout: 10000,
    rebalanceTimeout: 10000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 200,
    retry: { retries: 2, initialRetryTime: 100, restartOnFailure: async () => false },
  }
}

async function consumeN(consumer, n, timeoutMs = 15000) {
  const got = []
  let done
  const finished = new Promise(r => { done = r })
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      got.push({ partition, offset: message.offset, key: message.key && message.key.toString(),
        value: message.value && message.value.toString(), headers: message.headers })
      if (got.length >= n) done()
    },
  })
  const timer = sleep(timeoutMs)
  await Promise.race([finished, timer])
  return got
}

groupTest('subscribe fromBeginning receives every record in partition order', async () => {
  await admin.createTopics({ topics: [{ topic: 'jsc_all', numPartitions: 2 }] })
  await produce('jsc_all', Array.from({ length: 20 }, (_, i) => ({ partition: i % 2, key: `k${i}`, value: `v${i}` })))
  const consumer = track(kafka.consumer(consumerOpts('jsc-group-1')))
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: ['jsc_all'], fromBeginning: true })
    const got = await consumeN(consumer, 20)
    assert.equal(got.length, 20)
    for (const p of [0, 1]) {
      const mine = got.filter(m => m.partition === p)
      assert.deepEqual(mine.map(m => m.offset), Array.from({ length: 10 }, (_, i) => String(i)))
      assert.deepEqual(mine.map(m => m.value), Array.from({ length: 10 }, (_, i) => `v${2 * i + p}`))
    }
  } finally {
    await consumer.disconnect()
  }
})

groupTest('committed offsets: a new consumer in the same group resumes after them', async () => {
  await admin.createTopics({ topics: [{ topic: 'jsc_commit', numPartitions: 1 }] })
  await produce('jsc_commit', Array.from({ length: 5 }, (_, i) => ({ value: `a${i}` })))
  let c = track(kafka.consumer(consumerOpts('jsc-group-2')))
  await c.connect()
  await c.subscribe({ topics: ['jsc_commit'], fromBeginning: true })
  assert.equal((await consumeN(c, 5)).length, 5)
  await c.disconnect() // commits on leave
  const offs = await admin.fetchOffsets({ groupId: 'jsc-group-2', topics: ['jsc_commit'] })
  assert.equal(offs[0].partitions[0].offset, '5')
  await produce('jsc_commit', [{ value: 'b0' }, { value: 'b1' }])
  c = track(kafka.consumer(consumerOpts('jsc-group-2')))
  await c.connect()
  try {
    await c.subscribe({ topics: ['jsc_commit'], fromBeginning: true })
    const got = await consumeN(c, 2)
    assert.deepEqual(got.map(m => [m.offset, m.value]), [['5', 'b0'], ['6', 'b1']])
  } finally {
    await c.disconnect()
  }
})

groupTest('seek moves a running consumer', async () => {
  await admin.createTopics({ topics: [{ topic: 'jsc_seek', numPartitions: 1 }] })
  await produce('jsc_seek', Array.from({ length: 10 }, (_, i) => ({ value: `s${i}` })))
  const consumer = track(kafka.consumer(consumerOpts('jsc-group-3')))
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: ['jsc_seek'], fromBeginning: true })
    const got = []
    let seeked = false
    let done
    const finished = new Promise(r => { done = r })
    await consumer.run({
      eachMessage: async ({ message }) => {
        got.push(message.value.toString())
        if (!seeked) { seeked = true; consumer.seek({ topic: 'jsc_seek', partition: 0, offset: '7' }) }
        if (got.length >= 4) done()
      },
    })
    await Promise.race([finished, sleep(15000)])
    assert.equal(got[0], 's0')
    assert.deepEqual(got.slice(-3), ['s7', 's8', 's9'])
  } finally {
    await consumer.disconnect()
  }
})

groupTest('describeGroups and listGroups show a live group', async () => {
  await admin.createTopics({ topics: [{ topic: 'jsc_desc', numPartitions: 1 }] })
  const consumer = track(kafka.consumer(consumerOpts('jsc-group-4')))
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: ['jsc_desc'] })
    await produce('jsc_desc', [{ value: 'x' }])
    await consumeN(consumer, 1, 5000)
    const { groups } = await admin.listGroups()
    assert.ok(groups.some(g => g.groupId === 'jsc-group-4'), JSON.stringify(groups))
    const d = await admin.describeGroups(['jsc-group-4'])
    assert.equal(d.groups[0].state, 'Stable')
    assert.equal(d.groups[0].members.length, 1)
  } finally {
    await consumer.disconnect()
  }
})
