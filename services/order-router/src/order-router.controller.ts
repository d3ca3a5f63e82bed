import { Controller, UseFilters } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { TOPICS, type OrderCommand, type OrderUpdateBatch } from '@trading/contracts';
import {
  PARTITIONS_ASSIGNED,
  PartitionBatchErrors,
  type ConsumedRecord,
  type PartitionBatchContext,
} from '@trading/kafka';
import { OrderRouterService } from './order-router.service';

/**
 * orders.commands.v1 and orders.updates.v2, one partition batch at a time (the ROUTER_CONSUMER
 * transport: co-partitioned, one batch of a partition at a time, offsets in the database).
 */
@Controller()
@UseFilters(PartitionBatchErrors)
export class OrderRouterController {
  constructor(private readonly service: OrderRouterService) {}

  @EventPattern(TOPICS.orderCommands.name)
  async commands(
    @Payload() records: ConsumedRecord<OrderCommand>[],
    @Ctx() ctx: PartitionBatchContext,
  ): Promise<void> {
    await this.service.commands(records, ctx);
  }

  @EventPattern(TOPICS.orderUpdates.name)
  async updates(
    @Payload() records: ConsumedRecord<OrderUpdateBatch>[],
    @Ctx() ctx: PartitionBatchContext,
  ): Promise<void> {
    await this.service.updates(records, ctx);
  }

  @EventPattern(PARTITIONS_ASSIGNED)
  assigned(@Payload() assignment: Record<string, number[]>): void {
    this.service.assigned(assignment);
  }
}
