package gateway

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/memproxy/memproxy/test/services"
)

// TestRedisHealthShared: a cooldown announced through one replica's client
// is read through another's, until it is cleared.
func TestRedisHealthShared(t *testing.T) {
	addr := services.RequireRedis(t)
	key := "memproxy-test:router:" + rand.Text()
	a, b := redis.NewClient(&redis.Options{Addr: addr}), redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { a.Del(context.Background(), key); a.Close(); b.Close() })
	ha, hb := &redisHealth{rdb: a, key: key}, &redisHealth{rdb: b, key: key}
	until := time.Now().Add(time.Minute).Truncate(time.Millisecond)
	if err := ha.Cool(t.Context(), "gpt#1", until); err != nil {
		t.Fatal(err)
	}
	got, err := hb.Cooling(t.Context())
	if err != nil || !got["gpt#1"].Equal(until) || len(got) != 1 {
		t.Fatalf("Cooling = %v, %v; want gpt#1 until %s", got, err, until)
	}
	if ttl := a.PTTL(t.Context(), key).Val(); ttl <= 0 {
		t.Errorf("the cooldown hash does not expire (ttl %s)", ttl)
	}
	if err := hb.Clear(t.Context(), "gpt#1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := ha.Cooling(t.Context()); len(got) != 0 {
		t.Errorf("after Clear: %v", got)
	}
}

// TestRedisEndedShared: a session ended through one replica's client is
// ended for another's, and the mark expires.
func TestRedisEndedShared(t *testing.T) {
	addr := services.RequireRedis(t)
	prefix := "memproxy-test:mcp:" + rand.Text() + ":"
	a, b := redis.NewClient(&redis.Options{Addr: addr}), redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { a.Del(context.Background(), prefix+"s1"); a.Close(); b.Close() })
	ea, eb := &redisEnded{rdb: a, prefix: prefix}, &redisEnded{rdb: b, prefix: prefix}
	if ended, err := eb.Ended(t.Context(), "s1"); err != nil || ended {
		t.Fatalf("before End: %v %v", ended, err)
	}
	if err := ea.End(t.Context(), "s1", time.Hour); err != nil {
		t.Fatal(err)
	}
	if ended, err := eb.Ended(t.Context(), "s1"); err != nil || !ended {
		t.Errorf("after End through a: %v %v", ended, err)
	}
	if ttl := b.PTTL(t.Context(), prefix+"s1").Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("ttl %s", ttl)
	}
}
