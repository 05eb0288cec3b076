'use strict'
// kafkajs transactions: producer.transaction() with send/commit and abort,
// sendOffsets (a consume-transform-produce step committing a group's offsets
// in the transaction), read back by read_committed (kafkajs' default) and
// read_uncommitted consumers; a second producer with the same
// transactionalId fences the first.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { Broker } = require('../broker')
const { makeKafka, track, disconnectAll, waitFor, errType } = require('./common')

let broker, kafka

before(async () => {
  broker = await new Broker({ sets: { 'group.initial.rebalance.delay.ms': 0 } }).start()
  kafka = makeKafka(broker.bootstrap, { retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 20 } })
})

after(async () => {
  await disconnectAll()
  if (broker) await broker.cleanup()
})

async function readAll(topic, readUncommitted, expected) {
  const consumer = track(kafka.consumer({ groupId: `reader-${topic}-${readUncommitted}-${Date.now()}`, readUncommitted,
    maxWaitTimeInMs: 100 }))
  await consumer.connect()
  await consumer.subscribe({ topics: [topic], fromBeginning: true })
  const values = []
  await consumer.run({ eachMessage: async ({ message }) => { values.push(message.value.toString()) } })
  await waitFor(() => values.length >= expected, 20000, `${expected} records of ${topic}`)
  // Anything beyond what is expected would show up in this extra while.
  await new Promise(r => setTimeout(r, 1000))
  await consumer.disconnect()
  return values
}

async function createTopic(topic, numPartitions = 1) {
  const admin = track(kafka.admin())
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions }] })
  await admin.disconnect()
}

test('transaction commit and abort: read_committed sees the committed records only', async () => {
  await createTopic('js_txn')
  const producer = track(kafka.producer({ transactionalId: 'js-txn', maxInFlightRequests: 1, idempotent: true }))
  await producer.connect()
  let txn = await producer.transaction()
  await txn.send({ topic: 'js_txn', messages: [{ value: 'c1' }, { value: 'c2' }] })
  await txn.commit()
  txn = await producer.transaction()
  await txn.send({ topic: 'js_txn', messages: [{ value: 'a1' }] })
  await txn.abort()
  txn = await producer.transaction()
  await txn.send({ topic: 'js_txn', messages: [{ value: 'c3' }] })
  await txn.commit()
  await producer.disconnect()
  assert.deepEqual(await readAll('js_txn', false, 3), ['c1', 'c2', 'c3'])
  assert.deepEqual((await readAll('js_txn', true, 4)).sort(), ['a1', 'c1', 'c2', 'c3'])
})

test('sendOffsets: the group offsets commit with the transaction, and not when it aborts', async () => {
  await createTopic('js_txn_in')
  await createTopic('js_txn_out')
  const plain = track(kafka.producer())
  await plain.connect()
  await plain.send({ topic: 'js_txn_in', messages: [0, 1, 2, 3, 4, 5].map(i => ({ value: `in${i}` })) })
  await plain.disconnect()
  const producer = track(kafka.producer({ transactionalId: 'js-ctp', maxInFlightRequests: 1, idempotent: true }))
  await producer.connect()
  const admin = track(kafka.admin())
  await admin.connect()
  const committed = async () => {
    const [t] = await admin.fetchOffsets({ groupId: 'js-ctp-group', topics: ['js_txn_in'] })
    return Number(t.partitions[0].offset)
  }
  // Offsets 0-2 in a committed transaction, 3-5 in an aborted one.
  let txn = await producer.transaction()
  await txn.send({ topic: 'js_txn_out', messages: [{ value: 'out0' }, { value: 'out1' }, { value: 'out2' }] })
  await txn.sendOffsets({ consumerGroupId: 'js-ctp-group',
    topics: [{ topic: 'js_txn_in', partitions: [{ partition: 0, offset: '3' }] }] })
  await txn.commit()
  assert.equal(await committed(), 3)
  txn = await producer.transaction()
  await txn.send({ topic: 'js_txn_out', messages: [{ value: 'out3' }] })
  await txn.sendOffsets({ consumerGroupId: 'js-ctp-group',
    topics: [{ topic: 'js_txn_in', partitions: [{ partition: 0, offset: '6' }] }] })
  await txn.abort()
  assert.equal(await committed(), 3)
  await admin.disconnect()
  await producer.disconnect()
  assert.deepEqual(await readAll('js_txn_out', false, 3), ['out0', 'out1', 'out2'])
})

test('a second producer with the same transactionalId fences the first', async () => {
  await createTopic('js_txn_zombie')
  const old = track(kafka.producer({ transactionalId: 'js-zombie', maxInFlightRequests: 1, idempotent: true,
    retry: { retries: 1 } }))
  await old.connect()
  const oldTxn = await old.transaction()
  await oldTxn.send({ topic: 'js_txn_zombie', messages: [{ value: 'zombie' }] })
  const fresh = track(kafka.producer({ transactionalId: 'js-zombie', maxInFlightRequests: 1, idempotent: true }))
  await fresh.connect()  // InitProducerId: aborts the old transaction, bumps the epoch
  const txn = await fresh.transaction()
  await txn.send({ topic: 'js_txn_zombie', messages: [{ value: 'fresh' }] })
  await txn.commit()
  await assert.rejects(oldTxn.commit(), err => {
    const type = errType(err)
    return type === 'INVALID_PRODUCER_EPOCH' || type === 'PRODUCER_FENCED'
  })
  await old.disconnect()
  await fresh.disconnect()
  assert.deepEqual(await readAll('js_txn_zombie', false, 1), ['fresh'])
})
