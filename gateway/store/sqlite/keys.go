package sqlite

// Per-user API keys (migration 0004): auth.KeyStore over the api_keys
// table. Every value is a placeholder argument, on the error paths too.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/memproxy/memproxy/gateway/auth"
)

var _ auth.KeyStore = (*DB)(nil)

const keyColumns = `id, user_id, project, models, rpm, tpm, max_budget, budget_period, created_ns, revoked_ns, last_used_ns`

// CreateKey implements auth.KeyStore.
func (s *DB) CreateKey(ctx context.Context, rec auth.KeyRecord, hash auth.KeyHash) error {
	if err := rec.Validate(); err != nil {
		return err
	}
	if rec.CreatedAt.IsZero() {
		return fmt.Errorf("%w: no creation time", auth.ErrInvalidKey)
	}
	models, err := json.Marshal(nonNil(rec.Models))
	if err != nil {
		return fmt.Errorf("creating key %s: %w", rec.ID, err)
	}
	// ON CONFLICT DO NOTHING covers both unique columns (id, key_hash).
	res, err := s.db.ExecContext(ctx, `INSERT INTO api_keys
		(id, key_hash, user_id, project, models, rpm, tpm, max_budget, budget_period, created_ns)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		rec.ID, hash[:], rec.User, rec.Project, string(models), rec.RPM, rec.TPM, rec.MaxBudget,
		rec.BudgetPeriod, rec.CreatedAt.UnixNano())
	if err != nil {
		return fmt.Errorf("creating key %s: %w", rec.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("creating key %s: %w", rec.ID, err)
	} else if n == 0 {
		return fmt.Errorf("creating key %s: %w", rec.ID, auth.ErrKeyExists)
	}
	return nil
}

// KeyByHash implements auth.KeyStore.
func (s *DB) KeyByHash(ctx context.Context, hash auth.KeyHash) (auth.KeyRecord, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE key_hash = ? AND revoked_ns IS NULL`, hash[:])
	rec, err := scanKey(row)
	if errors.Is(err, sql.ErrNoRows) {
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
		q, args = q+` WHERE user_id = ?`, append(args, f.User)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY created_ns, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("listing keys: %w", err)
	}
	defer rows.Close()
	var out []auth.KeyRecord
	for rows.Next() {
		rec, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("listing keys: %w", err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing keys: %w", err)
	}
	return out, nil
}

// RevokeKey implements auth.KeyStore.
func (s *DB) RevokeKey(ctx context.Context, id string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE api_keys SET revoked_ns = coalesce(revoked_ns, ?) WHERE id = ?`, at.UnixNano(), id)
	if err != nil {
		return fmt.Errorf("revoking key: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("revoking key: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("revoking key: %w", auth.ErrKeyNotFound)
	}
	return nil
}

// TouchKey implements auth.KeyStore.
func (s *DB) TouchKey(ctx context.Context, id string, at time.Time) error {
	ns := at.UnixNano()
	if _, err := s.db.ExecContext(ctx, `UPDATE api_keys SET last_used_ns = ?
		WHERE id = ? AND (last_used_ns IS NULL OR last_used_ns < ?)`, ns, id, ns); err != nil {
		return fmt.Errorf("recording key use: %w", err)
	}
	return nil
}

func scanKey(row interface{ Scan(...any) error }) (auth.KeyRecord, error) {
	var (
		rec               auth.KeyRecord
		models            string
		budget            sql.NullFloat64
		created           int64
		revoked, lastUsed sql.NullInt64
	)
	if err := row.Scan(&rec.ID, &rec.User, &rec.Project, &models, &rec.RPM, &rec.TPM, &budget,
		&rec.BudgetPeriod, &created, &revoked, &lastUsed); err != nil {
		return auth.KeyRecord{}, err
	}
	if err := json.Unmarshal([]byte(models), &rec.Models); err != nil {
		return auth.KeyRecord{}, fmt.Errorf("key %s: models: %w", rec.ID, err)
	}
	if len(rec.Models) == 0 {
		rec.Models = nil
	}
	if budget.Valid {
		rec.MaxBudget = &budget.Float64
	}
	rec.CreatedAt = time.Unix(0, created).UTC()
	if revoked.Valid {
		rec.RevokedAt = time.Unix(0, revoked.Int64).UTC()
	}
	if lastUsed.Valid {
		rec.LastUsedAt = time.Unix(0, lastUsed.Int64).UTC()
	}
	return rec, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// RevokedSince implements auth.RevocationLister.
func (s *DB) RevokedSince(ctx context.Context, since time.Time) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM api_keys WHERE revoked_ns >= ?`, since.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("listing revoked keys: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("listing revoked keys: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing revoked keys: %w", err)
	}
	return ids, nil
}
