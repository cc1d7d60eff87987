package wal

import (
	"fmt"
	"os"
)

// dataEnd returns where the records of the segment at path, size bytes
// long, end: before the run of zeros at its end. A segment appended to
// through a mapping has one when its run crashed (its reserved, unwritten
// tail); one closed normally, or written with write(2), ends with its last
// record's newline. JSON holds no raw zero byte, so the last non-zero byte
// is the last byte a record put there (perhaps of a record cut short,
// which reading then skips as a torn last line).
func dataEnd(path string, size int64) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for end := size; end > 0; {
		n := min(end, int64(len(buf)))
		if _, err := f.ReadAt(buf[:n], end-n); err != nil {
			return 0, fmt.Errorf("reading %s: %w", path, err)
		}
		for i := n - 1; i >= 0; i-- {
			if buf[i] != 0 {
				return end - n + i + 1, nil
			}
		}
		end -= n
	}
	return 0, nil
}
