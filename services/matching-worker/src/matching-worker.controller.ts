import { Controller, UseFilters } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { TOPICS, type SequencedCommand } from '@trading/contracts';
import {
  PARTITIONS_ASSIGNED,
  PartitionBatchErrors,
  type ConsumedRecord,
  type PartitionBatchContext,
} from '@trading/kafka';
import { MatchingWorkerService } from './matching-worker.service';

/** orders.sequenced.v1, one partition batch at a time (the SEQUENCED_CONSUMER transport). */
@Controller()
@UseFilters(PartitionBatchErrors)
export class MatchingWorkerController {
  constructor(private readonly service: MatchingWorkerService) {}

  @EventPattern(TOPICS.ordersSequenced.name)
  async commands(
    @Payload() records: ConsumedRecord<SequencedCommand>[],
    @Ctx() ctx: PartitionBatchContext,
  ): Promise<void> {
    await this.service.handle(records, ctx);
  }

  @EventPattern(PARTITIONS_ASSIGNED)
  assigned(@Payload() assignment: Record<string, number[]>): void {
    this.service.assigned(assignment);
  }
}
