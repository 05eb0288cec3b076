'use strict'
// kafkajs idempotent producer (idempotent: true): it gets a producer id from
// InitProducerId, its batches carry it, and a numbered stream sent across a
// kill -9 and restart of the broker is stored once, without gaps, in order.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { Broker } = require('../broker')
const { makeKafka, kcatRead, disconnectAll, track } = require('./common')

let broker, kafka

before(async () => {
  broker = await new Broker({ sets: { 'num.partitions': 2 } }).start()
  kafka = makeKafka(broker.bootstrap, { retry: { initialRetryTime: 200, maxRetryTime: 1000, retries: 30 } })
})

after(async () => {
  await disconnectAll()
  if (broker) await broker.cleanup()
})

test('idempotent producer: producer id in the batches, no duplicates or gaps across kill -9', async () => {
  const admin = track(kafka.admin())
  await admin.connect()
  await admin.createTopics({ topics: [{ topic: 'js_idem', numPartitions: 2 }] })
  await admin.disconnect()
  const producer = track(kafka.producer({ idempotent: true, maxInFlightRequests: 1 }))
  await producer.connect()
  const total = 600
  let next = 0
  const sendSome = async n => {
    const messages = []
    for (let i = 0; i < n; i++, next++) messages.push({ partition: next % 2, value: String(next).padStart(6, '0') })
    const r = await producer.send({ topic: 'js_idem', acks: -1, messages })
    for (const p of r) assert.equal(p.errorCode, 0)
  }
  while (next < total / 2) await sendSome(50)
  await broker.kill9()
  const restarting = broker.restart()
  // Sent while the broker comes back: kafkajs retries the same batch.
  const sending = sendSome(50)
  await restarting
  await sending
  while (next < total) await sendSome(50)
  await producer.disconnect()

  for (const p of [0, 1]) {
    const recs = kcatRead(broker.bootstrap, 'js_idem', p)
    const seqs = recs.map(r => Number(r.payload))
    const want = Array.from({ length: total / 2 }, (_, i) => 2 * i + p)
    assert.deepEqual(seqs, want, `partition ${p}: duplicates, gaps or reordering`)
  }
  // The batches on disk carry a producer id (header bytes 43..50) and epoch 0.
  const dir = path.join(broker.dataDir, 'js_idem-0')
  const log = fs.readdirSync(dir).filter(f => f.endsWith('.log')).sort()[0]
  const head = fs.readFileSync(path.join(dir, log)).subarray(0, 61)
  assert.ok(head.readBigInt64BE(43) >= 0n, 'no producer id in the batch')
  assert.equal(head.readInt16BE(51), 0)
  assert.equal(head.readInt32BE(53), 0)
})
