package gateway

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/memproxy/memproxy/gateway/provider"
)

// redisHealth is the router's provider.HealthShare in Redis: one hash,
// deployment id → end of its cooldown (Unix ms). Every replica with the
// same model_list names deployments alike.
type redisHealth struct {
	rdb *redis.Client
	key string
}

var _ provider.HealthShare = (*redisHealth)(nil)

// Cool implements provider.HealthShare. The hash lives as long as its
// latest cooldown, plus a minute.
func (h *redisHealth) Cool(ctx context.Context, id string, until time.Time) error {
	_, err := h.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, h.key, id, until.UnixMilli())
		p.PExpire(ctx, h.key, time.Until(until)+time.Minute)
		return nil
	})
	return err
}

// Clear implements provider.HealthShare.
func (h *redisHealth) Clear(ctx context.Context, id string) error {
	return h.rdb.HDel(ctx, h.key, id).Err()
}

// Cooling implements provider.HealthShare.
func (h *redisHealth) Cooling(ctx context.Context) (map[string]time.Time, error) {
	m, err := h.rdb.HGetAll(ctx, h.key).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string]time.Time, len(m))
	for id, v := range m {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			out[id] = time.UnixMilli(ms)
		}
	}
	return out, nil
}
