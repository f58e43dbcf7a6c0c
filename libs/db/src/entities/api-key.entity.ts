import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, Unique } from 'typeorm';

// Mirrors the migrations exactly, so `npm run migration:generate` only ever shows real changes.
/** An API key managed at runtime (the admin API): only its SHA-256 is stored, never the secret. */
@Entity({ name: 'api_keys' })
@Unique('api_keys_key_sha256_key', ['keySha256'])
@Index('api_keys_previous_sha256_idx', ['previousSha256'], { where: 'previous_sha256 IS NOT NULL' })
@Index('api_keys_tenant_idx', ['tenant', 'createdAt'])
export class ApiKey {
  @PrimaryColumn({ type: 'uuid' })
  id: string;

  @Column({ type: 'varchar', length: 64 })
  tenant: string;

  @Column({ type: 'varchar', length: 64 })
  name: string;

  @Column({ type: 'varchar', length: 64, default: 'default' })
  tier: string;

  @Column({ type: 'text', array: true })
  scopes: string[];

  @Column({ name: 'key_sha256', type: 'char', length: 64 })
  keySha256: string;

  /** The secret a rotation replaced; it keeps working until previous_valid_until. */
  @Column({ name: 'previous_sha256', type: 'char', length: 64, nullable: true })
  previousSha256: string | null;

  @Column({ name: 'previous_valid_until', type: 'timestamptz', nullable: true })
  previousValidUntil: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt: Date | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;

  @Column({ name: 'rotated_at', type: 'timestamptz', nullable: true })
  rotatedAt: Date | null;

  /** Written at most once a minute per key, so a busy key costs no write per request. */
  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null;
}
