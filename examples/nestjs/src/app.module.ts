import { Module } from '@nestjs/common';
import { ClientsModule } from '@nestjs/microservices';
import { AppController } from './app.controller.js';
import { AppService } from './app.service.js';
import { KAFKA_CLIENT, kafkaTransport } from './kafka.config.js';

@Module({
  imports: [
    // The ClientKafka used by the HTTP routes to emit events and send requests.
    ClientsModule.register([{ name: KAFKA_CLIENT, ...kafkaTransport() }]),
  ],
  controllers: [AppController],
  providers: [AppService],
})
export class AppModule {}
