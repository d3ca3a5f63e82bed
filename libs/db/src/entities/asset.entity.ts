import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'assets' })
export class AssetEntity {
  @PrimaryColumn({ type: 'text' })
  code!: string;

  @Column({ type: 'smallint' })
  decimals!: number;

  @Column({ type: 'timestamptz', name: 'created_at', insert: false, update: false })
  createdAt!: Date;
}
