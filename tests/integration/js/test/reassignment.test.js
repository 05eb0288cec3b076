'use strict'
// kafkajs's admin.alterPartitionReassignments and listPartitionReassignments
// (AlterPartitionReassignments v0, ListPartitionReassignments v0, KIP-455)
// against three brokers and a real etcd: a topic with 2 partitions on one
// broker each grows to two replicas per partition and then moves partition 0
// off its first broker; the moves are listed until done, Metadata (kafkajs's
// fetchTopicMetadata) shows the new replicas, and a kafkajs consumer reads
// every record produced before and after.
const test = require('node:test')
const assert = require('node:assert')
const { Cluster, etcdAvailable, ETCD } = require('../cluster')
const { makeKafka, sleep, track, disconnectAll, waitFor } = require('./common')

const skip = etcdAvailable() ? false : `${ETCD} is not installed (etcd-server; make deps installs it)`
const SETS = { 'broker.session.timeout.ms': 2000, 'replica.lag.time.max.ms': 1500 }
const TOPIC = 'js-reassign'

test('kafkajs moves partitions between brokers and every record stays', { skip, timeout: 90000 }, async () => {
  const cluster = new Cluster(3, { sets: SETS })
  try {
    await cluster.start()
    const kafka = makeKafka(cluster.bootstrapList[0], { brokers: cluster.bootstrapList })
    const admin = track(kafka.admin())
    await admin.connect()
    await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 2, replicationFactor: 1 }] })
    const producer = track(kafka.producer())
    await producer.connect()
    const send = async (prefix) => {
      for (let p = 0; p < 2; p++) {
        await producer.send({
          topic: TOPIC, acks: -1,
          messages: Array.from({ length: 50 }, (_, i) => ({ partition: p, value: `${prefix}-${p}-${i}` })),
        })
      }
    }
    await send('before')
    const replicasOf = async () => {
      const md = await admin.fetchTopicMetadata({ topics: [TOPIC] })
      return Object.fromEntries(md.topics[0].partitions.map(p => [p.partitionId, p]))
    }
    const first = await replicasOf()
    const grown = [0, 1].map(p => {
      const only = first[p].replicas[0]
      return [only, only % 3 + 1]
    })
    await admin.alterPartitionReassignments({
      topics: [{ topic: TOPIC, partitionAssignment: grown.map((replicas, partition) => ({ partition, replicas })) }],
    })
    const settled = async (want) => {
      const listed = await admin.listPartitionReassignments({})
      if (listed.topics.length !== 0) return false
      const now = await replicasOf()
      return want.every((replicas, p) => JSON.stringify(now[p].replicas) === JSON.stringify(replicas) &&
        [...now[p].isr].sort().join() === [...replicas].sort().join())
    }
    await waitFor(() => settled(grown), 30000)
    // Partition 0 leaves its first broker for the third.
    const third = [1, 2, 3].find(n => !grown[0].includes(n))
    const moved = [third, grown[0][1]]
    await admin.alterPartitionReassignments({ topics: [{ topic: TOPIC, partitionAssignment: [{ partition: 0, replicas: moved }] }] })
    await waitFor(() => settled([moved, grown[1]]), 30000)
    // An unknown topic gets Kafka's error, per partition.
    await assert.rejects(
      admin.alterPartitionReassignments({ topics: [{ topic: 'js-reassign-none', partitionAssignment: [{ partition: 0, replicas: [1] }] }] }),
      e => Array.isArray(e.errors) && e.errors.length === 1 && e.errors[0].type === 'UNKNOWN_TOPIC_OR_PARTITION')
    await send('after')
    const consumer = track(kafka.consumer({ groupId: 'js-reassign-reader' }))
    await consumer.connect()
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
    const got = new Set()
    await consumer.run({ eachMessage: async ({ message }) => { got.add(message.value.toString()) } })
    await waitFor(() => got.size >= 200, 30000)
    for (const prefix of ['before', 'after']) {
      for (let p = 0; p < 2; p++) {
        for (let i = 0; i < 50; i++) assert.ok(got.has(`${prefix}-${p}-${i}`), `${prefix}-${p}-${i} was not read`)
      }
    }
    for (const [n, b] of cluster.brokers) assert.ok(b.alive(), `broker ${n} died:\n${b.log().slice(-3000)}`)
  } finally {
    await disconnectAll()
    await cluster.cleanup()
  }
})
