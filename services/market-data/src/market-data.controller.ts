import { Controller, UseFilters } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { TOPICS, type Execution } from '@trading/contracts';
import { PARTITIONS_ASSIGNED, PartitionBatchErrors, type ConsumedRecord } from '@trading/kafka';
import { MarketDataService } from './market-data.service';

/** executions.v1, one partition batch of valid records at a time (the EXECUTIONS_CONSUMER transport). */
@Controller()
@UseFilters(PartitionBatchErrors)
export class MarketDataController {
  constructor(private readonly service: MarketDataService) {}

  @EventPattern(TOPICS.executions.name)
  async executions(@Payload() records: ConsumedRecord<Execution>[]): Promise<void> {
    await this.service.handle(records);
  }

  @EventPattern(PARTITIONS_ASSIGNED)
  assigned(@Payload() assignment: Record<string, number[]>): void {
    this.service.assigned(assignment);
  }
}
