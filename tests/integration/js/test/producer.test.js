'use strict'
// kafkajs producer; what it wrote is read back with kcat, an independent client.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { CompressionTypes } = require('kafkajs')
const { Broker } = require('../broker')
const { makeKafka, kcatRead, errType } = require('./common')

let broker, kafka, admin, producer

before(async () => {
  broker = await new Broker({ sets: { 'num.partitions': 3, 'auto.create.topics.enable': 'true' } }).start()
  kafka = makeKafka(broker.bootstrap)
  admin = kafka.admin()
  await admin.connect()
  producer = kafka.producer({ idempotent: false, allowAutoTopicCreation: true })
  await producer.connect()
})

after(async () => {
  if (producer) await producer.disconnect().catch(() => {})
  if (admin) await admin.disconnect().catch(() => {})
  const alive = broker && broker.alive()
  const log = broker ? broker.log() : ''
  if (broker) await broker.cleanup()
  assert.ok(alive, 'broker died during the producer tests:\n' + log)
})

test('send with keys, headers and timestamps; acks=-1 reports offsets', async () => {
  await admin.createTopics({ topics: [{ topic: 'jsp_basic', numPartitions: 1 }] })
  const r1 = await producer.send({
    topic: 'jsp_basic',
    acks: -1,
    messages: [
      { key: 'k1', value: 'v1', headers: { h1: 'a', h2: Buffer.from([0, 1, 2]) }, timestamp: '1600000000001' },
      { key: null, value: 'v2', timestamp: '1600000000002' },
      { key: 'k3', value: null },
    ],
  })
  assert.deepEqual(r1.map(r => [r.topicName, r.partition, r.errorCode, r.baseOffset]), [['jsp_basic', 0, 0, '0']])
  const r2 = await producer.send({ topic: 'jsp_basic', acks: 1, messages: [{ value: 'v4' }] })
  assert.equal(r2[0].baseOffset, '3')
  const recs = kcatRead(broker.bootstrap, 'jsp_basic', 0)
  assert.deepEqual(recs.map(r => [r.offset, r.key, r.payload]),
    [[0, 'k1', 'v1'], [1, null, 'v2'], [2, 'k3', null], [3, null, 'v4']])
  assert.deepEqual(recs[0].headers, ['h1', 'a', 'h2', '\u0000\u0001\u0002'])
  assert.deepEqual(recs.slice(0, 2).map(r => r.ts), [1600000000001, 1600000000002])
})

test('gzip compression round trip', async () => {
  await admin.createTopics({ topics: [{ topic: 'jsp_gzip', numPartitions: 1 }] })
  const messages = Array.from({ length: 200 }, (_, i) => ({ key: `k${i % 7}`, value: `gz-${i}-`.repeat(20) }))
  const r = await producer.send({ topic: 'jsp_gzip', compression: CompressionTypes.GZIP, messages })
  assert.equal(r[0].baseOffset, '0')
  const recs = kcatRead(broker.bootstrap, 'jsp_gzip', 0)
  assert.equal(recs.length, 200)
  recs.forEach((rec, i) => {
    assert.equal(rec.offset, i)
    assert.equal(rec.key, `k${i % 7}`)
    assert.equal(rec.payload, `gz-${i}-`.repeat(20))
  })
  // fetching from the middle of the compressed batch
  const mid = kcatRead(broker.bootstrap, 'jsp_gzip', 0, 150)
  assert.equal(mid[0].offset, 150)
  assert.equal(mid.length, 50)
})

test('sendBatch to several topics', async () => {
  await admin.createTopics({ topics: [{ topic: 'jsp_b1' }, { topic: 'jsp_b2' }].map(t => ({ ...t, numPartitions: 1 })) })
  const r = await producer.sendBatch({
    acks: -1,
    topicMessages: [
      { topic: 'jsp_b1', messages: [{ value: 'a' }, { value: 'b' }] },
      { topic: 'jsp_b2', messages: [{ value: 'c' }] },
    ],
  })
  const got = Object.fromEntries(r.map(x => [x.topicName, [x.partition, x.errorCode, x.baseOffset]]))
  assert.deepEqual(got, { jsp_b1: [0, 0, '0'], jsp_b2: [0, 0, '0'] })
  assert.deepEqual(kcatRead(broker.bootstrap, 'jsp_b1', 0).map(x => x.payload), ['a', 'b'])
  assert.deepEqual(kcatRead(broker.bootstrap, 'jsp_b2', 0).map(x => x.payload), ['c'])
})

test('same key goes to the same partition (auto-created topic with 3 partitions)', async () => {
  const seen = new Map()
  for (let round = 0; round < 3; round++) {
    const results = await Promise.all(Array.from({ length: 10 }, (_, k) =>
      producer.send({ topic: 'jsp_keys', messages: [{ key: `key-${k}`, value: `${round}` }] })))
    results.forEach((r, k) => {
      assert.equal(r[0].errorCode, 0)
      const p = r[0].partition
      if (seen.has(k)) assert.equal(p, seen.get(k), `key-${k} moved partitions`)
      seen.set(k, p)
    })
  }
  const md = await admin.fetchTopicMetadata({ topics: ['jsp_keys'] })
  assert.equal(md.topics[0].partitions.length, 3)
  assert.ok(new Set(seen.values()).size >= 2, 'ten keys all hashed to one partition')
  let total = 0
  for (const p of [0, 1, 2]) {
    const recs = kcatRead(broker.bootstrap, 'jsp_keys', p)
    for (const rec of recs) assert.equal(seen.get(Number(rec.key.split('-')[1])), p)
    total += recs.length
  }
  assert.equal(total, 30)
})

test('keyless messages spread over the partitions', async () => {
  await admin.createTopics({ topics: [{ topic: 'jsp_nokey', numPartitions: 3 }] })
  const parts = new Set()
  for (let i = 0; i < 12; i++) {
    const r = await producer.send({ topic: 'jsp_nokey', messages: [{ value: `n${i}` }] })
    parts.add(r[0].partition)
  }
  assert.deepEqual([...parts].sort(), [0, 1, 2])
})

test('message larger than max.message.bytes is rejected', async () => {
  await admin.createTopics({
    topics: [{ topic: 'jsp_small', numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '1000' }] }],
  })
  const p = kafka.producer({ idempotent: false, retry: { retries: 0 } })
  await p.connect()
  try {
    await assert.rejects(p.send({ topic: 'jsp_small', messages: [{ value: 'x'.repeat(5000) }] }), err => {
      assert.equal(errType(err), 'MESSAGE_TOO_LARGE', String(err))
      return true
    })
  } finally {
    await p.disconnect()
  }
})

test('producing to a partition that does not exist stores nothing', async () => {
  // kafkajs drops messages for partitions missing from its metadata and resolves
  // with no result for them; the broker must not have created the partition.
  await admin.createTopics({ topics: [{ topic: 'jsp_onepart', numPartitions: 1 }] })
  const r = await producer.send({ topic: 'jsp_onepart', messages: [{ partition: 5, value: 'x' }] })
  assert.ok(!r.some(x => x.partition === 5 && x.errorCode === 0), JSON.stringify(r))
  const md = await admin.fetchTopicMetadata({ topics: ['jsp_onepart'] })
  assert.equal(md.topics[0].partitions.length, 1)
  const [o] = await admin.fetchTopicOffsets('jsp_onepart')
  assert.equal(o.high, '0')
})
