package postgres

// Per-user API keys (migration 0004): auth.KeyStore over the api_keys
// table. Every value is a placeholder argument, on the error paths too.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/memproxy/memproxy/gateway/auth"
)

var _ auth.KeyStore = (*DB)(nil)

const keyColumns = `id, user_id, project, models, rpm, tpm, max_budget, budget_period, created_at, revoked_at, last_used_at`

// CreateKey implements auth.KeyStore. Times are kept to the microsecond.
func (s *DB) CreateKey(ctx context.Context, rec auth.KeyRecord, hash auth.KeyHash) error {
	if err := rec.Validate(); err != nil {
		return err
	}
	if rec.CreatedAt.IsZero() {
		return fmt.Errorf("%w: no creation time", auth.ErrInvalidKey)
	}
	models := rec.Models
	if models == nil {
		models = []string{}
	}
	// ON CONFLICT DO NOTHING covers both unique columns (id, key_hash).
	tag, err := s.pool.Exec(ctx, `INSERT INTO api_keys
		(id, key_hash, user_id, project, models, rpm, tpm, max_budget, budget_period, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
		rec.ID, hash[:], rec.User, rec.Project, models, rec.RPM, rec.TPM, rec.MaxBudget,
		rec.BudgetPeriod, rec.CreatedAt)
	if err != nil {
		return fmt.Errorf("creating key %s: %w", rec.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("creating key %s: %w", rec.ID, auth.ErrKeyExists)
	}
	return nil
}

// KeyByHash implements auth.KeyStore.
func (s *DB) KeyByHash(ctx context.Context, hash auth.KeyHash) (auth.KeyRecord, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`, hash[:])
	rec, err := scanKey(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return auth.KeyRecord{}, auth.ErrKeyNotFound
	}
	if err != nil {
		return auth.KeyRecord{}, fmt.Errorf("looking up a key: %w", err)
	}
	return rec, nil
}

// ListKeys implements auth.KeyStore.
func (s *DB) ListKeys(ctx context.Context, f auth.KeyFilter) ([]auth.KeyRecord, error) {
	q, args := `SELECT `+keyColumns+` FROM api_keys`, []any{}
	if f.User != "" {
		q, args = q+` WHERE user_id = $1`, append(args, f.User)
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY created_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("listing keys: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (auth.KeyRecord, error) { return scanKey(r) })
	if err != nil {
		return nil, fmt.Errorf("listing keys: %w", err)
	}
	return out, nil
}

// RevokeKey implements auth.KeyStore.
func (s *DB) RevokeKey(ctx context.Context, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`, at, id)
	if err != nil {
		return fmt.Errorf("revoking key: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("revoking key: %w", auth.ErrKeyNotFound)
	}
	return nil
}

// TouchKey implements auth.KeyStore.
func (s *DB) TouchKey(ctx context.Context, id string, at time.Time) error {
	if _, err := s.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = $1
		WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)`, at, id); err != nil {
		return fmt.Errorf("recording key use: %w", err)
	}
	return nil
}

func scanKey(row pgx.Row) (auth.KeyRecord, error) {
	var (
		rec               auth.KeyRecord
		created           time.Time
		revoked, lastUsed *time.Time
	)
	if err := row.Scan(&rec.ID, &rec.User, &rec.Project, &rec.Models, &rec.RPM, &rec.TPM, &rec.MaxBudget,
		&rec.BudgetPeriod, &created, &revoked, &lastUsed); err != nil {
		return auth.KeyRecord{}, err
	}
	if len(rec.Models) == 0 {
		rec.Models = nil
	}
	rec.CreatedAt = created.UTC()
	if revoked != nil {
		rec.RevokedAt = revoked.UTC()
	}
	if lastUsed != nil {
		rec.LastUsedAt = lastUsed.UTC()
	}
	return rec, nil
}

// RevokedSince implements auth.RevocationLister.
func (s *DB) RevokedSince(ctx context.Context, since time.Time) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id FROM api_keys WHERE revoked_at >= $1`, since)
	if err != nil {
		return nil, fmt.Errorf("listing revoked keys: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("listing revoked keys: %w", err)
	}
	return ids, nil
}
