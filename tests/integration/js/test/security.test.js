'use strict'
// kafkajs over SASL_SSL (the `ssl` and `sasl` options a Kafka user writes) with
// SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN, and over SASL_PLAINTEXT; a wrong
// password fails with Kafka's message while other clients carry on. The
// certificates are made here with the openssl command.
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Broker, freePort, waitPort } = require('../broker')
const { makeKafka } = require('./common')

let broker, certDir, saslSslPort, saslPort

function openssl(...args) {
  execFileSync('openssl', args, { cwd: certDir, stdio: ['ignore', 'ignore', 'pipe'] })
}

function makeCerts() {
  certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-js-certs-'))
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=runnel-js-ca')
  openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost')
  fs.writeFileSync(path.join(certDir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext')
}

function kafkaFor(port, sasl, ssl = true) {
  return makeKafka(`127.0.0.1:${port}`, {
    ssl: ssl ? { ca: [fs.readFileSync(path.join(certDir, 'ca.pem'), 'utf8')] } : false,
    sasl,
    retry: { retries: 0 },
  })
}

before(async () => {
  makeCerts()
  saslSslPort = await freePort()
  saslPort = await freePort()
  broker = new Broker({
    sets: {
      listeners: `SASL_SSL://127.0.0.1:${saslSslPort},SASL_PLAINTEXT://127.0.0.1:${saslPort}`,
      'ssl.keystore.key': fs.readFileSync(path.join(certDir, 'server.key'), 'utf8').replace(/\n/g, '\\n'),
      'ssl.keystore.certificate.chain': fs.readFileSync(path.join(certDir, 'server.pem'), 'utf8').replace(/\n/g, '\\n'),
    },
  })
  for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512']) {
    execFileSync(broker.binary, ['user', 'set', 'nest', '--password', 'nest-pw', '--mechanism', mechanism,
      '--data-dir', broker.dataDir])
  }
  await broker.start()
  assert.ok(await waitPort(saslSslPort, 10000), 'the SASL_SSL listener did not open')
})

after(async () => {
  const alive = broker && broker.alive()
  const log = broker ? broker.log() : ''
  if (broker) await broker.cleanup()
  fs.rmSync(certDir, { recursive: true, force: true })
  assert.ok(alive, 'broker died during the security tests:\n' + log)
})

async function roundtrip(kafka, topic) {
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] })
  await admin.disconnect()
  const producer = kafka.producer()
  await producer.connect()
  await producer.send({ topic, messages: [{ key: 'k', value: 'hello over ' + topic }] })
  await producer.disconnect()
  const consumer = kafka.consumer({ groupId: 'g-' + topic })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const got = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no message within 20 s')), 20000)
    consumer.run({ eachMessage: async ({ message }) => { clearTimeout(timer); resolve(message.value.toString()) } })
  })
  await consumer.disconnect()
  assert.equal(got, 'hello over ' + topic)
}

for (const mechanism of ['scram-sha-256', 'scram-sha-512', 'plain']) {
  test(`SASL_SSL with ${mechanism}: produce and consume in a group`, async () => {
    await roundtrip(kafkaFor(saslSslPort, { mechanism, username: 'nest', password: 'nest-pw' }),
      'js_sasl_ssl_' + mechanism.replace(/-/g, '_'))
  })
}

test('SASL_PLAINTEXT with scram-sha-256', async () => {
  await roundtrip(kafkaFor(saslPort, { mechanism: 'scram-sha-256', username: 'nest', password: 'nest-pw' }, false),
    'js_sasl_plaintext')
})

test('a wrong password fails with Kafka\'s message; others carry on', async () => {
  const admin = kafkaFor(saslSslPort, { mechanism: 'scram-sha-256', username: 'nest', password: 'wrong' }).admin()
  await assert.rejects(admin.connect(), err => {
    const messages = []
    for (let e = err, depth = 0; e && depth < 6; depth++, e = e.cause || e.originalError) messages.push(String(e.message))
    assert.match(messages.join(' | '), /invalid credentials with SASL mechanism SCRAM-SHA-256/)
    return true
  })
  const ok = kafkaFor(saslSslPort, { mechanism: 'scram-sha-512', username: 'nest', password: 'nest-pw' }).admin()
  await ok.connect()
  assert.ok((await ok.listTopics()).length >= 0)
  await ok.disconnect()
})
