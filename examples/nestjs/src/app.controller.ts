import {
  BadRequestException,
  Controller,
  Get,
  Inject,
  OnModuleInit,
  Query,
} from '@nestjs/common';
import {
  ClientKafka,
  Ctx,
  EventPattern,
  KafkaContext,
  MessagePattern,
  Payload,
} from '@nestjs/microservices';
import { lastValueFrom } from 'rxjs';
import { AppService } from './app.service.js';
import type { AppEvent } from './app.service.js';
import { consumerReady, watchConsumer } from './consumer-state.js';
import { KAFKA_CLIENT } from './kafka.config.js';

@Controller()
export class AppController implements OnModuleInit {
  constructor(
    private readonly appService: AppService,
    @Inject(KAFKA_CLIENT) private readonly client: ClientKafka,
  ) {}

  async onModuleInit() {
    // Replies to 'math.sum' come back on 'math.sum.reply'.
    this.client.subscribeToResponseOf('math.sum');
    watchConsumer(this.client.status, () => this.client.consumer, this.appService.clientConsumer);
    await this.client.connect();
  }

  // ---- HTTP ----

  /** `curl localhost:3000`: emits an event to the `events` topic. */
  @Get()
  async emit() {
    const event = this.appService.nextEvent();
    const [record] = await lastValueFrom(this.client.emit('events', event));
    return { ...event, delivered: { topic: record.topicName, partition: record.partition, offset: record.baseOffset } };
  }

  /** `curl localhost:3000/events`: what the @EventPattern handler received, in order. */
  @Get('events')
  events() {
    return this.appService.events();
  }

  /** `curl 'localhost:3000/sum?a=1&b=2'`: request/response over Kafka. */
  @Get('sum')
  async sum(@Query('a') a: string, @Query('b') b: string) {
    const x = Number(a);
    const y = Number(b);
    if (a === undefined || b === undefined || !Number.isFinite(x) || !Number.isFinite(y)) {
      throw new BadRequestException('a and b must be numbers');
    }
    // NestJS's Kafka serializer sends a primitive reply as its string form.
    const reply = await lastValueFrom(this.client.send<number | string>('math.sum', { a: x, b: y }));
    return { a: x, b: y, result: Number(reply) };
  }

  /** `curl localhost:3000/health`: the group membership of both Kafka consumers. */
  @Get('health')
  health() {
    const { instance, serverConsumer, clientConsumer } = this.appService;
    const ready = consumerReady(serverConsumer) && consumerReady(clientConsumer);
    return { instance, ready, consumer: serverConsumer, client: clientConsumer };
  }

  // ---- Kafka (ServerKafka, see main.ts) ----

  // The explicit <string> picks the untyped overload: the typed one does not
  // allow a @Ctx() parameter after the payload.
  @EventPattern<string>('events')
  handleEvent(@Payload() event: AppEvent, @Ctx() context: KafkaContext) {
    this.appService.record(event, context.getPartition(), context.getMessage().offset);
  }

  @MessagePattern('math.sum')
  handleSum(@Payload() data: { a: number; b: number }): number {
    return this.appService.sum(data.a, data.b);
  }
}
