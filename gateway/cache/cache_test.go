package cache

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/memproxy/memproxy/test/services"
)

func TestMemory(t *testing.T) {
	runConformance(t, func(t *testing.T, fn func(*testing.T, Cache, sleeper)) {
		synctest.Test(t, func(t *testing.T) { fn(t, NewMemory(4<<20), time.Sleep) })
	})
}

func TestRedis(t *testing.T) {
	runConformance(t, func(t *testing.T, fn func(*testing.T, Cache, sleeper)) {
		c := redis.NewClient(&redis.Options{Addr: services.RequireRedis(t)})
		prefix := "memproxy-test:cache:" + rand.Text() + ":"
		t.Cleanup(func() {
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var keys []string
			iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
			for iter.Next(ctx) {
				keys = append(keys, iter.Val())
			}
			err := iter.Err()
			if err == nil && len(keys) > 0 {
				err = c.Del(ctx, keys...).Err()
			}
			if err != nil {
				t.Errorf("cleaning up %s*: %v", prefix, err)
			}
		})
		fn(t, NewRedis(c, prefix), time.Sleep)
	})
}

// TestMemoryLRU checks eviction by bytes, least recently used first.
func TestMemoryLRU(t *testing.T) {
	const size = 100 << 10
	entry := func() Entry { return Entry{Status: 200, Body: make([]byte, size)} }
	c := NewMemory(3*size + 3*entryOverhead + 1000) // three fit, not four
	ks := []Key{key("a"), key("b"), key("c"), key("d")}
	for _, k := range ks[:3] {
		set(t, c, k, entry(), time.Hour)
	}
	get(t, c, ks[0]) // a is now the most recent; b the least
	set(t, c, ks[3], entry(), time.Hour)
	for i, want := range []bool{true, false, true, true} {
		if _, ok := get(t, c, ks[i]); ok != want {
			t.Errorf("entry %c present = %v; want %v", 'a'+i, ok, want)
		}
	}
	// An entry larger than the whole cache is not stored and evicts nothing.
	huge := key("huge")
	set(t, c, huge, Entry{Status: 200, Body: make([]byte, 4*size)}, time.Hour)
	if _, ok := get(t, c, huge); ok {
		t.Errorf("an entry larger than maxBytes was stored")
	}
	for _, i := range []int{0, 2, 3} {
		if _, ok := get(t, c, ks[i]); !ok {
			t.Errorf("entry %c evicted by an entry that was not stored", 'a'+i)
		}
	}
	m := c.(*memory)
	if m.used > m.max || m.lru.Len() != 3 || len(m.items) != 3 {
		t.Errorf("used %d of %d, %d in list, %d in map", m.used, m.max, m.lru.Len(), len(m.items))
	}
}

// TestRedisCorrupt checks that an unreadable value is an error and a miss.
func TestRedisCorrupt(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: services.RequireRedis(t)})
	defer c.Close()
	prefix := "memproxy-test:cache:" + rand.Text() + ":"
	k := key("corrupt")
	for _, v := range []string{"", "\x02", "\x01\xc8\x01", "\x01\xc8\x01\x00\x00\x00\x05ab"} {
		if err := c.Set(t.Context(), prefix+k.String(), v, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		if e, ok, err := NewRedis(c, prefix).Get(t.Context(), k); err == nil || ok {
			t.Errorf("Get of %q = %+v, %v, %v; want an error and a miss", v, e, ok, err)
		}
	}
	c.Del(context.Background(), prefix+k.String())
}

func TestKeyOf(t *testing.T) {
	body := []byte(`{"messages":[]}`)
	base := KeyOf("user:alice", "gpt-4o", "openai", body)
	if base != KeyOf("user:alice", "gpt-4o", "openai", body) {
		t.Fatal("KeyOf is not deterministic")
	}
	for _, k := range []Key{
		KeyOf("user:bob", "gpt-4o", "openai", body),
		KeyOf("user:alice", "gpt-4o-mini", "openai", body),
		KeyOf("user:alice", "gpt-4o", "anthropic", body),
		KeyOf("user:alice", "gpt-4o", "openai", []byte(`{"messages":[1]}`)),
		KeyOf("", "user:alicegpt-4o", "openai", body), // lengths keep fields apart
		KeyOf("user:alicegpt-4o", "", "openai", body),
		KeyOf("user:alice", "gpt-4oopenai", "", body),
	} {
		if k == base {
			t.Errorf("two different requests share key %s", k)
		}
	}
	if s := base.String(); len(s) != 64 {
		t.Errorf("String = %q; want 64 hex digits", s)
	}
}

func ExampleKeyOf() {
	body, _ := Normalize([]byte(`{"model": "gpt-4o", "stream": true,
		"messages": [{"role": "user", "content": "hi"}]}`))
	fmt.Println(string(body))
	k := KeyOf("user:alice\x00project:shop", "gpt-4o", "openai", body)
	fmt.Println(len(k.String()))
	// Output:
	// {"messages":[{"content":"hi","role":"user"}],"model":"gpt-4o"}
	// 64
}
