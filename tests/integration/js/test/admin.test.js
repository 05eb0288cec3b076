'use strict'
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { ConfigResourceTypes } = require('kafkajs')
const { Broker } = require('../broker')
const { makeKafka, sleep, errType } = require('./common')

let broker, kafka, admin

before(async () => {
  broker = await new Broker({ sets: { 'num.partitions': 1, 'auto.create.topics.enable': 'false' } }).start()
  kafka = makeKafka(broker.bootstrap)
  admin = kafka.admin()
  await admin.connect()
})

after(async () => {
  if (admin) await admin.disconnect().catch(() => {})
  const alive = broker && broker.alive()
  const log = broker ? broker.log() : ''
  if (broker) await broker.cleanup()
  assert.ok(alive, 'broker died during the admin tests:\n' + log)
})

async function produce(topic, messages, partition = 0) {
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  try {
    return await producer.send({ topic, acks: -1, messages: messages.map(m => ({ partition, ...m })) })
  } finally {
    await producer.disconnect()
  }
}

test('createTopics, listTopics, fetchTopicMetadata, deleteTopics', async () => {
  const created = await admin.createTopics({
    topics: [{ topic: 'js_a', numPartitions: 3, replicationFactor: 1 }, { topic: 'js_b' }],
    waitForLeaders: true,
  })
  assert.equal(created, true)
  const topics = await admin.listTopics()
  assert.ok(topics.includes('js_a') && topics.includes('js_b'), topics.join(','))
  const md = await admin.fetchTopicMetadata({ topics: ['js_a', 'js_b'] })
  const byName = Object.fromEntries(md.topics.map(t => [t.name, t]))
  assert.deepEqual(byName.js_a.partitions.map(p => p.partitionId).sort(), [0, 1, 2])
  assert.equal(byName.js_b.partitions.length, 1) // num.partitions default
  for (const p of byName.js_a.partitions) {
    assert.equal(p.partitionErrorCode, 0)
    assert.ok(p.leader >= 0)
    assert.deepEqual(p.replicas, [p.leader])
    assert.deepEqual(p.isr, [p.leader])
  }
  // creating an existing topic resolves to false (TOPIC_ALREADY_EXISTS)
  assert.equal(await admin.createTopics({ topics: [{ topic: 'js_a', numPartitions: 3 }] }), false)
  await admin.deleteTopics({ topics: ['js_a', 'js_b'], timeout: 5000 })
  const after = await admin.listTopics()
  assert.ok(!after.includes('js_a') && !after.includes('js_b'), after.join(','))
})

test('createTopics with an invalid name fails with INVALID_TOPIC_EXCEPTION', async () => {
  await assert.rejects(admin.createTopics({ topics: [{ topic: 'bad name!' }] }), err => {
    assert.equal(errType(err), 'INVALID_TOPIC_EXCEPTION', String(err))
    return true
  })
})

test('deleteTopics of an unknown topic fails with UNKNOWN_TOPIC_OR_PARTITION', async () => {
  await assert.rejects(admin.deleteTopics({ topics: ['js_never_created'], timeout: 2000 }), err => {
    assert.equal(errType(err), 'UNKNOWN_TOPIC_OR_PARTITION', String(err))
    return true
  })
})

test('createPartitions grows a topic; metadata reports the new count', async () => {
  await admin.createTopics({ topics: [{ topic: 'js_grow', numPartitions: 2 }] })
  await admin.createPartitions({ topicPartitions: [{ topic: 'js_grow', count: 4 }] })
  let md
  for (let i = 0; i < 20; i++) {
    md = await admin.fetchTopicMetadata({ topics: ['js_grow'] })
    if (md.topics[0].partitions.length === 4) break
    await sleep(100)
  }
  assert.deepEqual(md.topics[0].partitions.map(p => p.partitionId).sort(), [0, 1, 2, 3])
  const [r] = await produce('js_grow', [{ value: 'p3' }], 3)
  assert.equal(r.partition, 3)
  assert.equal(r.baseOffset, '0')
  await assert.rejects(admin.createPartitions({ topicPartitions: [{ topic: 'js_grow', count: 2 }] }), err => {
    assert.equal(errType(err), 'INVALID_PARTITIONS', String(err))
    return true
  })
})

test('describeConfigs and alterConfigs on a topic', async () => {
  await admin.createTopics({
    topics: [{ topic: 'js_cfg', configEntries: [{ name: 'retention.ms', value: '86400000' }] }],
  })
  const describe = async names => {
    const r = await admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: 'js_cfg', configNames: names }],
      includeSynonyms: false,
    })
    assert.equal(r.resources.length, 1)
    assert.equal(r.resources[0].errorCode, 0)
    assert.equal(r.resources[0].resourceName, 'js_cfg')
    return Object.fromEntries(r.resources[0].configEntries.map(e => [e.configName, e]))
  }
  let cfg = await describe(undefined)
  assert.equal(cfg['retention.ms'].configValue, '86400000')
  assert.equal(cfg['retention.ms'].isDefault, false)
  assert.equal(cfg['cleanup.policy'].configValue, 'delete')
  assert.ok('segment.bytes' in cfg && 'max.message.bytes' in cfg, Object.keys(cfg).join(','))

  await admin.alterConfigs({
    validateOnly: false,
    resources: [{
      type: ConfigResourceTypes.TOPIC,
      name: 'js_cfg',
      configEntries: [{ name: 'retention.ms', value: '3600000' }, { name: 'max.message.bytes', value: '50000' }],
    }],
  })
  cfg = await describe(['retention.ms', 'max.message.bytes'])
  assert.deepEqual(Object.keys(cfg).sort(), ['max.message.bytes', 'retention.ms'])
  assert.equal(cfg['retention.ms'].configValue, '3600000')
  assert.equal(cfg['max.message.bytes'].configValue, '50000')
})

test('fetchTopicOffsets and fetchTopicOffsetsByTimestamp', async () => {
  await admin.createTopics({ topics: [{ topic: 'js_offsets', numPartitions: 2 }] })
  // explicit CreateTime timestamps 1000..10000 on partition 0, nothing on partition 1
  for (let i = 0; i < 10; i++) {
    await produce('js_offsets', [{ value: `t${i}`, timestamp: String(1000 * (i + 1)) }], 0)
  }
  const offsets = (await admin.fetchTopicOffsets('js_offsets')).sort((a, b) => a.partition - b.partition)
  assert.deepEqual(offsets.map(o => [o.partition, o.low, o.high, o.offset]),
    [[0, '0', '10', '10'], [1, '0', '0', '0']])
  const byTs = async ts => (await admin.fetchTopicOffsetsByTimestamp('js_offsets', ts))
    .sort((a, b) => a.partition - b.partition).map(o => o.offset)
  assert.deepEqual(await byTs(4500), ['4', '0'])   // partition 1 is empty: latest offset (0)
  assert.deepEqual(await byTs(1000), ['0', '0'])
  assert.deepEqual(await byTs(99999), ['10', '0']) // no record at or after: kafkajs falls back to the high watermark
})

test('deleteTopicRecords moves the log start offset', async () => {
  await admin.createTopics({ topics: [{ topic: 'js_delrec' }] })
  await produce('js_delrec', Array.from({ length: 10 }, (_, i) => ({ value: `d${i}` })))
  // kafkajs looks up partition leaders in its metadata cache before anything else
  await admin.fetchTopicOffsets('js_delrec')
  await admin.deleteTopicRecords({ topic: 'js_delrec', partitions: [{ partition: 0, offset: '6' }] })
  const [o] = await admin.fetchTopicOffsets('js_delrec')
  assert.deepEqual([o.low, o.high], ['6', '10'])
  // offset -1 deletes up to the high watermark
  await admin.deleteTopicRecords({ topic: 'js_delrec', partitions: [{ partition: 0, offset: '-1' }] })
  const [o2] = await admin.fetchTopicOffsets('js_delrec')
  assert.deepEqual([o2.low, o2.high], ['10', '10'])
  const [r] = await produce('js_delrec', [{ value: 'after' }])
  assert.equal(r.baseOffset, '10')
})

test('deleteTopicRecords beyond the high watermark fails with OFFSET_OUT_OF_RANGE', async () => {
  await admin.createTopics({ topics: [{ topic: 'js_delrec2' }] })
  await produce('js_delrec2', [{ value: 'a' }, { value: 'b' }])
  await admin.fetchTopicOffsets('js_delrec2')
  await assert.rejects(
    admin.deleteTopicRecords({ topic: 'js_delrec2', partitions: [{ partition: 0, offset: '5' }] }),
    err => {
      assert.equal(errType(err), 'OFFSET_OUT_OF_RANGE', String(err))
      return true
    })
})
