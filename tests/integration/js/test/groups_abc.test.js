'use strict'
// Consumer groups through kafkajs 2.2.4, issue 3: the a/b/c split (one partition
// per member, every record once), two groups each reading everything, and
// listGroups/describeGroups/deleteGroups (NON_EMPTY_GROUP while members remain).
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { AssignerProtocol } = require('kafkajs')
const { Broker } = require('../broker')
const { makeKafka, sleep, track, disconnectAll, errType } = require('./common')

let broker, kafka, admin

before(async () => {
  broker = await new Broker({
    sets: {
      'num.partitions': 3, 'auto.create.topics.enable': 'true', 'group.initial.rebalance.delay.ms': 0,
      'group.min.session.timeout.ms': 1000,
    },
  }).start()
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

const opts = (groupId, clientId) => ({
  groupId, sessionTimeout: 3000, rebalanceTimeout: 5000, heartbeatInterval: 300, maxWaitTimeInMs: 100,
  retry: { retries: 3, initialRetryTime: 100, restartOnFailure: async () => false },
})

async function produce(topic, messages) {
  const p = kafka.producer({ idempotent: false })
  await p.connect()
  try { await p.send({ topic, acks: -1, messages }) } finally { await p.disconnect() }
}

async function waitFor(cond, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await cond()) return
    await sleep(50)
  }
  assert.fail(`timed out waiting for ${what}`)
}

async function member(groupId, topic, clientId = 'js-member') {
  const k = makeKafka(broker.bootstrap, { clientId })
  const consumer = track(k.consumer(opts(groupId)))
  const m = { consumer, got: [], assigned: [] }
  consumer.on(consumer.events.GROUP_JOIN, e => { m.assigned = (e.payload.memberAssignment[topic] || []).slice().sort() })
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  await consumer.run({
    eachMessage: async ({ partition, message }) => { m.got.push({ partition, value: message.value.toString() }) },
  })
  return m
}

const split = ms => {
  const all = ms.flatMap(m => m.assigned)
  return ms.every(m => m.assigned.length === 1) && JSON.stringify(all.sort()) === '[0,1,2]'
}

test('a/b/c: three members, three partitions, one each; every record once', async () => {
  const topic = 'jsabc'
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] })
  const ms = []
  for (const name of ['a', 'b', 'c']) ms.push(await member('jsabc-g', topic, name))
  await waitFor(() => split(ms), 20000, 'one partition per member')
  await produce(topic, Array.from({ length: 90 }, (_, i) => ({ partition: i % 3, value: `v${i}` })))
  await waitFor(() => ms.reduce((n, m) => n + m.got.length, 0) >= 90, 15000, '90 records')
  await sleep(500)
  assert.ok(split(ms), 'no rebalance while consuming')
  for (const m of ms) {
    assert.equal(m.got.length, 30)
    assert.ok(m.got.every(r => r.partition === m.assigned[0]), 'records only from the owned partition')
  }
  const values = ms.flatMap(m => m.got.map(r => r.value)).sort()
  assert.deepEqual(values, Array.from({ length: 90 }, (_, i) => `v${i}`).sort())
  for (const m of ms) await m.consumer.disconnect()
})

test('two groups each read every record', async () => {
  const topic = 'jstwo'
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] })
  await produce(topic, Array.from({ length: 30 }, (_, i) => ({ partition: i % 3, value: `t${i}` })))
  const g1 = [await member('jstwo-1', topic), await member('jstwo-1', topic)]
  const g2 = [await member('jstwo-2', topic)]
  for (const g of [g1, g2]) await waitFor(() => g.reduce((n, m) => n + m.got.length, 0) >= 30, 20000, '30 records')
  await sleep(500)
  const want = Array.from({ length: 30 }, (_, i) => `t${i}`).sort()
  for (const g of [g1, g2]) assert.deepEqual(g.flatMap(m => m.got.map(r => r.value)).sort(), want)
  for (const m of [...g1, ...g2]) await m.consumer.disconnect()
})

test('listGroups / describeGroups / deleteGroups (NON_EMPTY_GROUP while active)', async () => {
  const topic = 'jsadm'
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] })
  const ms = [await member('jsadm-g', topic, 'adm-0'), await member('jsadm-g', topic, 'adm-1')]
  await waitFor(() => ms.every(m => m.assigned.length) && ms[0].assigned.length + ms[1].assigned.length === 3,
    20000, 'the group to settle')
  const { groups } = await admin.listGroups()
  assert.deepEqual(groups.find(g => g.groupId === 'jsadm-g'), { groupId: 'jsadm-g', protocolType: 'consumer' })
  const { groups: [d] } = await admin.describeGroups(['jsadm-g'])
  assert.equal(d.errorCode, 0)
  assert.equal(d.state, 'Stable')
  assert.equal(d.protocolType, 'consumer')
  assert.equal(d.protocol, 'RoundRobinAssigner')
  assert.deepEqual(d.members.map(m => m.clientId).sort(), ['adm-0', 'adm-1'])
  const parts = d.members.flatMap(m => AssignerProtocol.MemberAssignment.decode(m.memberAssignment).assignment[topic])
  assert.deepEqual(parts.sort(), [0, 1, 2])
  for (const m of d.members) {
    const meta = AssignerProtocol.MemberMetadata.decode(m.memberMetadata)
    assert.deepEqual(meta.topics, [topic])
  }
  await assert.rejects(admin.deleteGroups(['jsadm-g']), err => {
    assert.equal(errType(err.groups ? err.groups[0].error : err), 'NON_EMPTY_GROUP', String(err))
    return true
  })
  for (const m of ms) await m.consumer.disconnect()
  const res = await admin.deleteGroups(['jsadm-g'])
  assert.deepEqual(res.map(r => [r.groupId, r.errorCode]), [['jsadm-g', 0]])
  const after = await admin.listGroups()
  assert.ok(!after.groups.some(g => g.groupId === 'jsadm-g'), 'deleted group still listed')
  const { groups: [gone] } = await admin.describeGroups(['jsadm-g'])
  assert.equal(gone.state, 'Dead')
})
