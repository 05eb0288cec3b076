import { NestFactory } from '@nestjs/core';
import { MicroserviceOptions } from '@nestjs/microservices';
import type { Consumer, ConsumerCrashEvent, ConsumerGroupJoinEvent } from 'kafkajs';
import { AppModule } from './app.module.js';
import { AppService } from './app.service.js';
import { brokers, kafkaTransport } from './kafka.config.js';

async function bootstrap() {
  const app = await NestFactory.create(AppModule);

  // Hybrid application: HTTP plus a Kafka microservice (ServerKafka) that
  // consumes the topics of every @EventPattern/@MessagePattern handler.
  const microservice = app.connectMicroservice<MicroserviceOptions>(kafkaTransport());

  // Report the consumer's group membership at GET /health. The kafkajs consumer
  // exists once the transport connects; its GROUP_JOIN events carry the
  // partitions this instance was assigned.
  const state = app.get(AppService).consumer;
  let watched: Consumer | undefined;
  microservice.status.subscribe((status) => {
    state.status = String(status);
    const [, consumer] = microservice.unwrap<[unknown, Consumer, unknown]>();
    if (consumer && consumer !== watched) {
      watched = consumer;
      consumer.on(consumer.events.GROUP_JOIN, (e: ConsumerGroupJoinEvent) => {
        Object.assign(state, {
          groupId: e.payload.groupId,
          memberId: e.payload.memberId,
          isLeader: e.payload.isLeader,
          assignments: e.payload.memberAssignment,
          joins: state.joins + 1,
          lastJoinAt: new Date().toISOString(),
        });
      });
      consumer.on(consumer.events.CRASH, (e: ConsumerCrashEvent) => {
        state.crashes.push({
          at: new Date().toISOString(),
          error: `${e.payload.error.name}: ${e.payload.error.message}`,
          restart: e.payload.restart,
        });
      });
    }
  });

  await app.startAllMicroservices();
  await app.listen(process.env.PORT ?? 3000);
  console.log(`HTTP on port ${process.env.PORT ?? 3000}, Kafka brokers ${brokers.join(',')}`);
}
await bootstrap();
