'use strict'
// Three brokers and a real etcd: a topic with 3 partitions, replication factor 3
// and min.insync.replicas=2. A kafkajs producer (acks=-1, not idempotent) keeps
// sending while the leader of partition 0 is killed with SIGKILL, another broker
// takes over, and the killed broker comes back (same node id, port and data dir)
// and rejoins every ISR. Then a kafkajs consumer reads the topic back: every
// acknowledged record is at exactly the partition and offset the producer was
// told, with its value.
const test = require('node:test')
const assert = require('node:assert')
const { Cluster, etcdAvailable, ETCD } = require('../cluster')
const { makeKafka, sleep, track, disconnectAll } = require('./common')

const skip = etcdAvailable() ? false : `${ETCD} is not installed (etcd-server; make deps installs it)`
const SETS = {
  'broker.session.timeout.ms': 2000,
  'replica.lag.time.max.ms': 1500,
  'group.initial.rebalance.delay.ms': 0,
}
const TOPIC = 'failover'
const PARTITIONS = 3
const BATCH = 20

test('acknowledged records survive the SIGKILL of partition 0\'s leader and its return', { skip, timeout: 90000 }, async () => {
  const cluster = new Cluster(3, { sets: SETS })
  // Only the broker the test kills may die: any other exit fails the test at once, with its log.
  const checkNoneDied = () => {
    for (const [n, b] of cluster.brokers) {
      if (b.proc && !b.alive()) assert.fail(`broker ${n} died (${b.exitStatus}); log tail:\n${b.log().slice(-3000)}`)
    }
  }
  // Polls cond() like waitFor, failing at once if a broker died; what() describes the last state seen.
  const waitUp = async (cond, ms, what) => {
    const deadline = Date.now() + ms
    for (;;) {
      checkNoneDied()
      if (await cond()) return
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${what()}`)
      await sleep(100)
    }
  }
  let producing = false
  let loop = Promise.resolve()
  try {
    await cluster.start()
    const kafka = makeKafka(cluster.bootstrapList[0], { brokers: cluster.bootstrapList })
    const admin = track(kafka.admin())
    await admin.connect()
    await admin.createTopics({
      topics: [{
        topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3,
        configEntries: [{ name: 'min.insync.replicas', value: '2' }],
      }],
    })
    let placed = {}
    await waitUp(async () => {
      placed = await cluster.partitions(1, TOPIC)
      return Object.keys(placed).length === PARTITIONS &&
        Object.values(placed).every(s => s.error === 0 && s.leader > 0 && s.isr.length === 3)
    }, 20000, () => `3 partitions with 3 in-sync replicas (${JSON.stringify(placed)})`)
    const victim = placed[0].leader
    const others = [...cluster.brokers.keys()].filter(n => n !== victim)

    // acked: ["partition:offset", value, phase] for every record of every send() that resolved.
    const acked = []
    const stats = { sends: 0, failed: 0, unanswered: 0, errors: new Map(), ackedAfterFailover: 0 }
    let phase = 'before'
    const producer = track(kafka.producer({
      idempotent: false,
      allowAutoTopicCreation: false,
      retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 15 },
    }))
    await producer.connect()
    producing = true
    loop = (async () => {
      for (let batch = 0; producing; batch++) {
        const messages = []
        for (let i = 0; i < BATCH; i++) messages.push({ partition: i % PARTITIONS, value: `${phase}-${batch}-${i}` })
        stats.sends++
        try {
          const res = await producer.send({ topic: TOPIC, acks: -1, messages })
          // kafkajs 2.2.4 keeps each broker's answer across retries and never resends
          // a partition whose new leader already answered for other partitions: its
          // send() then resolves without an entry for that partition. Those records
          // are not acknowledged (they may or may not be in the log).
          for (let p = 0; p < PARTITIONS; p++) {
            if (!res.some(r => r.partition === p)) stats.unanswered += messages.filter(m => m.partition === p).length
          }
          for (const r of res) {
            assert.strictEqual(r.errorCode, 0, JSON.stringify(r))
            const mine = messages.filter(m => m.partition === r.partition)
            mine.forEach((m, j) => acked.push([`${r.partition}:${BigInt(r.baseOffset) + BigInt(j)}`, m.value, phase]))
            if (phase !== 'before' && r.partition === 0) stats.ackedAfterFailover += mine.length
          }
        } catch (e) {
          stats.failed++
          const key = e.name + ': ' + e.message
          stats.errors.set(key, (stats.errors.get(key) || 0) + 1)
          await sleep(100)
        }
      }
    })()

    await sleep(2000)
    const ackedBefore = acked.length
    assert.ok(ackedBefore > 0, `nothing acknowledged before the kill (${JSON.stringify([...stats.errors])})`)

    await cluster.brokers.get(victim).kill9()
    const killedAt = Date.now()
    let view = {}
    await waitUp(async () => {
      view = await cluster.partitions(others[0], TOPIC)
      return view[0] && view[0].leader > 0 && view[0].leader !== victim
    }, 20000, () => `a new leader for partition 0 (${JSON.stringify(view)})`)
    const movedAfterMs = Date.now() - killedAt
    phase = 'after'
    await sleep(2000)

    await cluster.brokers.get(victim).restart()
    phase = 'back'
    await waitUp(async () => {
      view = await cluster.partitions(others[0], TOPIC)
      return Object.keys(view).length === PARTITIONS && Object.values(view).every(s => s.isr.includes(victim))
    }, 30000, () => `broker ${victim} back in every ISR (${JSON.stringify(view)})`)
    await sleep(1000)
    producing = false
    await loop
    await producer.disconnect()
    checkNoneDied()

    assert.ok(stats.ackedAfterFailover > 0,
      `no record acknowledged on partition 0 after the failover (${JSON.stringify([...stats.errors])})`)
    const ackedAfterKill = acked.length - ackedBefore
    console.log(`victim ${victim}, new leader after ${movedAfterMs} ms; ${stats.sends} sends, ${stats.failed} failed, ` +
      `${stats.unanswered} records without an answer from a resolved send; ` +
      `${acked.length} records acknowledged (${ackedBefore} before the kill, ${ackedAfterKill} after); ` +
      `errors: ${JSON.stringify([...stats.errors])}`)

    // Read everything back with a kafkajs consumer (a fresh group, from the beginning).
    const ends = await admin.fetchTopicOffsets(TOPIC)
    const high = new Map(ends.map(o => [o.partition, BigInt(o.high)]))
    const got = new Map()
    const conflicts = []
    const next = new Map([...high.keys()].map(p => [p, 0n]))
    const consumer = track(kafka.consumer({ groupId: `failover-${process.pid}-${Date.now()}`, maxWaitTimeInMs: 200 }))
    await consumer.connect()
    await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const key = `${batch.partition}:${m.offset}`
          if (got.has(key) && got.get(key) !== m.value.toString()) conflicts.push(`${key}: ${got.get(key)} then ${m.value}`)
          got.set(key, m.value.toString())
          const o = BigInt(m.offset) + 1n
          if (o > next.get(batch.partition)) next.set(batch.partition, o)
        }
      },
    })
    await waitUp(() => [...high].every(([p, h]) => next.get(p) >= h), 30000,
      () => `the consumer to reach ${JSON.stringify(ends)} (at ${JSON.stringify([...next].map(([p, o]) => [p, String(o)]))})`)
    await consumer.stop()
    await consumer.disconnect()

    checkNoneDied()
    assert.deepStrictEqual(conflicts, [], 'an offset read twice with different values')
    // Offsets are contiguous: no holes below the high watermark.
    for (const [p, h] of high) {
      for (let o = 0n; o < h; o++) assert.ok(got.has(`${p}:${o}`), `partition ${p} offset ${o} (< high watermark ${h}) was not read`)
    }
    const where = new Map([...got].map(([k, v]) => [v, k]))
    const missing = []
    const wrong = []
    for (const [key, value, ackPhase] of acked) {
      const found = where.has(value) ? `found at ${where.get(value)}` : 'not read anywhere'
      if (!got.has(key)) missing.push(`${key} (${value}, acked ${ackPhase}, ${found})`)
      else if (got.get(key) !== value) wrong.push(`${key}: acked ${value} (${ackPhase}), read ${got.get(key)}; ${found}`)
    }
    assert.deepStrictEqual(missing.slice(0, 30), [], `${missing.length} acknowledged records are missing`)
    assert.deepStrictEqual(wrong.slice(0, 30), [], `${wrong.length} acknowledged offsets hold another value`)
    const readValues = new Set(got.values())
    const ackedValues = new Set(acked.map(a => a[1]))
    const extra = [...readValues].filter(v => !ackedValues.has(v)).length
    console.log(`read ${got.size} records; ${acked.length} acknowledged all in place; ${extra} unacknowledged values present; ` +
      `${got.size - readValues.size} duplicates`)
  } finally {
    producing = false
    let timer
    await Promise.race([loop.catch(() => {}), new Promise(r => { timer = setTimeout(r, 20000) })])
    clearTimeout(timer)
    await disconnectAll()
    if (process.env.KEEP_BROKER_LOGS) {
      for (const [n, b] of cluster.brokers) console.log(`broker ${n} log: ${b.logPath}`)
      console.log(`etcd dir: ${cluster.etcd.tmp}`)
    }
    await cluster.cleanup()
  }
})
