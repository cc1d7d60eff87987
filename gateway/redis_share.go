package gateway

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/memproxy/memproxy/gateway/mcp"
	"github.com/memproxy/memproxy/gateway/provider"
)

// Replica state shared through Redis: the router's cooldowns and the MCP
// sessions that ended.

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

// redisEnded is the memory MCP server's mcp.EndedSessions in Redis: one
// key per ended session, expiring with the session timeout.
type redisEnded struct {
	rdb    *redis.Client
	prefix string
}

var _ mcp.EndedSessions = (*redisEnded)(nil)

// End implements mcp.EndedSessions.
func (e *redisEnded) End(ctx context.Context, id string, ttl time.Duration) error {
	return e.rdb.Set(ctx, e.prefix+id, 1, ttl).Err()
}

// Ended implements mcp.EndedSessions.
func (e *redisEnded) Ended(ctx context.Context, id string) (bool, error) {
	n, err := e.rdb.Exists(ctx, e.prefix+id).Result()
	return n > 0, err
}

// mcpEnded is where the memory MCP server shares ended sessions: Redis
// when configured, else nil (each process keeps its own).
func (s *Server) mcpEnded() mcp.EndedSessions {
	if s.redis == nil {
		return nil
	}
	return &redisEnded{rdb: s.redis, prefix: "memproxy:mcp:ended:"}
}
