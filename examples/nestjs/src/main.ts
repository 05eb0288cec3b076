import { NestFactory } from '@nestjs/core';
import { MicroserviceOptions } from '@nestjs/microservices';
import type { Consumer } from 'kafkajs';
import { AppModule } from './app.module.js';
import { AppService } from './app.service.js';
import { watchConsumer } from './consumer-state.js';
import { brokers, kafkaTransport } from './kafka.config.js';

async function bootstrap() {
  const app = await NestFactory.create(AppModule);

  // Hybrid application: HTTP plus a Kafka microservice (ServerKafka) that
  // consumes the topics of every @EventPattern/@MessagePattern handler.
  const microservice = app.connectMicroservice<MicroserviceOptions>(kafkaTransport());

  // Follow its kafkajs consumer (group membership, partitions) for GET /health.
  watchConsumer(
    microservice.status,
    () => microservice.unwrap<[unknown, Consumer, unknown]>()[1],
    app.get(AppService).serverConsumer,
  );

  await app.startAllMicroservices();
  await app.listen(process.env.PORT ?? 3000);
  console.log(`HTTP on port ${process.env.PORT ?? 3000}, Kafka brokers ${brokers.join(',')}`);
}
await bootstrap();
