package cache

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
)

// NewRedis returns a Cache in Redis, shared by every replica using the same
// Redis and prefix (e.g. "memproxy:cache:"). An entry is one string value
// at prefix + hex(key), written with SET … PX ttl, so Redis expires it; its
// memory bound and eviction are Redis's (maxmemory with an LRU policy).
func NewRedis(client *redis.Client, prefix string) Cache {
	return &redisCache{client: client, prefix: prefix}
}

type redisCache struct {
	client *redis.Client
	prefix string
}

var _ Cache = (*redisCache)(nil)

// Get implements Cache.
func (r *redisCache) Get(ctx context.Context, k Key) (Entry, bool, error) {
	b, err := r.client.Get(ctx, r.prefix+k.String()).Bytes()
	if errors.Is(err, redis.Nil) {
		return Entry{}, false, nil
	}
	if err != nil {
		return Entry{}, false, fmt.Errorf("cache: get: %w", err)
	}
	e, err := decode(b)
	if err != nil {
		return Entry{}, false, fmt.Errorf("cache: get %s: %w", k, err)
	}
	return e, true, nil
}

// Set implements Cache.
func (r *redisCache) Set(ctx context.Context, k Key, e Entry, ttl time.Duration) error {
	if ttl <= 0 {
		return ErrTTL
	}
	if e.size() > MaxEntryBytes {
		return nil
	}
	v, err := encode(e)
	if err != nil {
		return fmt.Errorf("cache: set: %w", err)
	}
	if err := r.client.Set(ctx, r.prefix+k.String(), v, ttl).Err(); err != nil {
		return fmt.Errorf("cache: set: %w", err)
	}
	return nil
}

// The stored value: a version byte, then the status as a uvarint, then
// CreatedAt (time.MarshalBinary), Content-Type, Body and Stream, each as a
// uvarint length and its bytes.
const encodingV1 = 1

func encode(e Entry) ([]byte, error) {
	created, err := e.CreatedAt.MarshalBinary()
	if err != nil {
		return nil, err
	}
	ct := e.Header.Get("Content-Type")
	b := make([]byte, 0, 1+3*binary.MaxVarintLen64+len(created)+len(ct)+len(e.Body)+len(e.Stream))
	b = append(b, encodingV1)
	b = binary.AppendUvarint(b, uint64(e.Status))
	for _, f := range [][]byte{created, []byte(ct), e.Body, e.Stream} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b, nil
}

var errCorrupt = errors.New("unreadable entry")

func decode(b []byte) (Entry, error) {
	if len(b) == 0 || b[0] != encodingV1 {
		return Entry{}, errCorrupt
	}
	b = b[1:]
	status, n := binary.Uvarint(b)
	if n <= 0 || status > 999 {
		return Entry{}, errCorrupt
	}
	b = b[n:]
	var fields [4][]byte
	for i := range fields {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return Entry{}, errCorrupt
		}
		fields[i], b = b[n:n+int(l)], b[n+int(l):]
	}
	if len(b) != 0 {
		return Entry{}, errCorrupt
	}
	e := Entry{Status: int(status)}
	if err := e.CreatedAt.UnmarshalBinary(fields[0]); err != nil {
		return Entry{}, errCorrupt
	}
	if len(fields[1]) > 0 {
		e.Header = http.Header{"Content-Type": {string(fields[1])}}
	}
	if len(fields[2]) > 0 {
		e.Body = fields[2]
	}
	if len(fields[3]) > 0 {
		e.Stream = fields[3]
	}
	return e, nil
}
