'use strict'
// Consumer-group behaviour through kafkajs: several members, members leaving,
// committed offsets through the admin API, and group state across a restart.
// Skipped while the broker does not advertise the group APIs.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { Broker, apiVersions } = require('../broker')
const { makeKafka, sleep, track, disconnectAll, waitFor } = require('./common')

const GROUP_APIS = [10, 11, 14, 12, 8, 9, 13, 15, 16, 42]
let broker, kafka, admin, skip = false

before(async () => {
  broker = await new Broker({
    sets: { 'num.partitions': 4, 'auto.create.topics.enable': 'true', 'group.initial.rebalance.delay.ms': 0 },
  }).start()
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
  assert.ok(alive, 'broker died during the group tests:\n' + log)
})

function groupTest(name, fn) {
  test(name, async t => {
    if (skip) return t.skip(skip)
    await fn(t)
  })
}

const opts = groupId => ({
  groupId, sessionTimeout: 6000, rebalanceTimeout: 6000, heartbeatInterval: 300, maxWaitTimeInMs: 100,
  retry: { retries: 3, initialRetryTime: 100, restartOnFailure: async () => false },
})

async function produce(topic, messages) {
  const p = kafka.producer({ idempotent: false })
  await p.connect()
  try { await p.send({ topic, acks: -1, messages }) } finally { await p.disconnect() }
}

// A running member that records what it receives and what it is assigned.
async function member(groupId, topic) {
  const consumer = track(kafka.consumer(opts(groupId)))
  const m = { consumer, got: [], assigned: [] }
  consumer.on(consumer.events.GROUP_JOIN, e => { m.assigned = (e.payload.memberAssignment[topic] || []).slice().sort() })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ partition, message }) => { m.got.push({ partition, value: message.value.toString() }) },
  })
  return m
}

groupTest('two members split 4 partitions; the survivor takes all after one leaves', async () => {
  const topic = 'jsg_split'
  await admin.createTopics({ topics: [{ topic, numPartitions: 4 }] })
  const a = await member('jsg-split', topic)
  await waitFor(() => a.assigned.length === 4, 10000, 'first member to own all 4 partitions')
  const b = await member('jsg-split', topic)
  await waitFor(() => a.assigned.length + b.assigned.length === 4 && a.assigned.length > 0 && b.assigned.length > 0,
    15000, 'a rebalance that splits the partitions')
  assert.deepEqual([...a.assigned, ...b.assigned].sort(), [0, 1, 2, 3])
  await produce(topic, [0, 1, 2, 3].map(p => ({ partition: p, value: `r1-${p}` })))
  await waitFor(() => a.got.length + b.got.length >= 4, 10000, 'round 1 records')
  for (const [m, name] of [[a, 'a'], [b, 'b']]) {
    for (const r of m.got) assert.ok(m.assigned.includes(r.partition), `${name} got a record of partition ${r.partition} it does not own`)
  }
  await b.consumer.disconnect() // LeaveGroup: a rebalances to all four
  await waitFor(() => a.assigned.length === 4, 15000, 'the survivor to own all 4 partitions')
  await produce(topic, [0, 1, 2, 3].map(p => ({ partition: p, value: `r2-${p}` })))
  await waitFor(() => a.got.filter(r => r.value.startsWith('r2-')).length === 4, 10000, 'round 2 records at the survivor')
  await a.consumer.disconnect()
  const all = [...a.got, ...b.got].map(r => r.value)
  assert.equal(new Set(all).size, 8, JSON.stringify(all))
})

groupTest('admin setOffsets / fetchOffsets / resetOffsets / deleteGroups', async () => {
  const topic = 'jsg_admin'
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] })
  await produce(topic, Array.from({ length: 10 }, (_, i) => ({ partition: i % 2, value: `${i}` })))
  await admin.setOffsets({ groupId: 'jsg-admin', topic, partitions: [{ partition: 0, offset: '3' }, { partition: 1, offset: '4' }] })
  let offs = await admin.fetchOffsets({ groupId: 'jsg-admin', topics: [topic] })
  assert.deepEqual(offs[0].partitions.sort((x, y) => x.partition - y.partition).map(p => [p.partition, p.offset]),
    [[0, '3'], [1, '4']])
  // a member starts at the committed offsets
  const m = await member('jsg-admin', topic)
  await waitFor(() => m.got.length >= 3, 10000, 'records after the committed offsets')
  await sleep(300)
  assert.deepEqual(m.got.map(r => r.value).sort(), ['6', '8', '9'])
  await m.consumer.disconnect()
  offs = await admin.fetchOffsets({ groupId: 'jsg-admin', topics: [topic] })
  assert.deepEqual(offs[0].partitions.sort((x, y) => x.partition - y.partition).map(p => p.offset), ['5', '5'])
  // kafkajs commits the logical offset -2 (earliest); Kafka stores it as given
  await admin.resetOffsets({ groupId: 'jsg-admin', topic, earliest: true })
  offs = await admin.fetchOffsets({ groupId: 'jsg-admin', topics: [topic] })
  assert.deepEqual(offs[0].partitions.map(p => p.offset), ['-2', '-2'])
  await admin.deleteGroups(['jsg-admin'])
  offs = await admin.fetchOffsets({ groupId: 'jsg-admin', topics: [topic] })
  assert.deepEqual(offs[0].partitions.map(p => p.offset), ['-1', '-1'])
})

groupTest('committed offsets survive a clean restart and a kill -9', async () => {
  const topic = 'jsg_restart'
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] })
  await produce(topic, Array.from({ length: 5 }, (_, i) => ({ value: `${i}` })))
  await admin.setOffsets({ groupId: 'jsg-restart', topic, partitions: [{ partition: 0, offset: '2' }] })
  await admin.disconnect()
  await broker.stop()
  await broker.start()
  admin = kafka.admin()
  await admin.connect()
  let offs = await admin.fetchOffsets({ groupId: 'jsg-restart', topics: [topic] })
  assert.equal(offs[0].partitions[0].offset, '2', 'after SIGTERM and restart')
  await admin.setOffsets({ groupId: 'jsg-restart', topic, partitions: [{ partition: 0, offset: '4' }] })
  await admin.disconnect()
  await broker.kill9()
  await broker.start()
  admin = kafka.admin()
  await admin.connect()
  offs = await admin.fetchOffsets({ groupId: 'jsg-restart', topics: [topic] })
  assert.equal(offs[0].partitions[0].offset, '4', 'after kill -9 and restart')
})
