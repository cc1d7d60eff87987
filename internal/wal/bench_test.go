package wal

import (
	"bytes"
	"testing"
)

// BenchmarkAppend measures one Append of a usage-row-sized record, from
// one goroutine (serial) and from many (parallel: group commit), per sync
// mode, through a mapping (where the platform has them) and with write(2)
// (what the journal does without them).
func BenchmarkAppend(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), 400)
	payload[0], payload[len(payload)-1] = '"', '"'
	for _, path := range []string{"mmap", "write"} {
		if path == "mmap" && !canMap {
			continue
		}
		for _, mode := range []SyncMode{SyncNever, SyncBatch, SyncAlways} {
			for _, parallel := range []bool{false, true} {
				name := path + "/" + mode.String() + "/serial"
				if parallel {
					name = path + "/" + mode.String() + "/parallel"
				}
				b.Run(name, func(b *testing.B) {
					l, err := Open(b.TempDir(), Options{Prefix: "bench-", Sync: mode})
					if err != nil {
						b.Fatal(err)
					}
					defer l.Close()
					l.mapped = path == "mmap"
					b.ReportAllocs()
					b.SetBytes(int64(len(frame(nil, payload))))
					if parallel {
						b.SetParallelism(16)
						b.RunParallel(func(pb *testing.PB) {
							for pb.Next() {
								if _, err := l.Append(payload, false); err != nil {
									b.Error(err)
									return
								}
							}
						})
						return
					}
					for b.Loop() {
						if _, err := l.Append(payload, false); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}
