package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// target is one path under test: where requests go and with which key.
type target struct {
	name string // direct, gateway or edge
	url  string // the chat completions URL
	key  string // bearer key, "" for none
}

// runSpec describes one open-loop run.
type runSpec struct {
	target      target
	stream      bool
	rate        int           // requests per second
	count       int           // requests scheduled
	maxInflight int           // more in flight than this: the request is not sent and counts as an error
	reqTimeout  time.Duration // per request, headers and body
	grace       time.Duration // after the last send, how long stragglers may take
	seqBase     int64         // first sequence number (unique over the whole bench)
	dump        string        // if set, write one CSV line per request to this file
}

// Outcomes of one request.
const (
	outOK        = iota
	outCap       // not sent: the in-flight cap was reached
	outTimeout   // no answer within the request timeout
	outTransport // connection refused, reset, …
	outStatus    // answer with a status other than 200
	outBody      // non-streaming body differs from what the upstream sent
	outNoDone    // stream did not end with data: [DONE] (cut)
	outContent   // stream ended with [DONE] but its bytes differ (cut)
	outAborted   // not sent: the run's deadline passed
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"ok", "in-flight cap", "timeout", "transport", "bad status", "bad body", "cut: no [DONE]", "cut: content differs", "aborted"}

// result is what one run measured.
type result struct {
	spec      runSpec
	counts    [numOutcomes]int
	samples   [numOutcomes]string // first error message of each kind
	lat, ttfb []time.Duration     // successful requests only, sorted
	lag       []time.Duration     // send time minus scheduled time, sorted
	wall      time.Duration       // first scheduled send to last completion
	res       resources
}

// sent counts the requests that went out (not stopped by the cap or the deadline).
func (r *result) sent() int { return r.spec.count - r.counts[outCap] - r.counts[outAborted] }

// errors counts every request that did not end in outOK.
func (r *result) errors() int { return r.spec.count - r.counts[outOK] }

// cut counts the streams that were cut or altered.
func (r *result) cut() int { return r.counts[outNoDone] + r.counts[outContent] }

// newClient returns the load generator's HTTP client: keep-alive with a
// large idle pool, no proxy, no compression, and dialling only loopback.
func newClient() *http.Client {
	d := &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{Transport: &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if err := checkLoopback(addr); err != nil {
				return nil, err
			}
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConns:        4096,
		MaxIdleConnsPerHost: 2048,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}
}

// checkLoopback refuses any address that is not a loopback IP and port.
func checkLoopback(hostport string) error {
	if u, err := url.Parse(hostport); err == nil && u.Host != "" {
		hostport = u.Host
	}
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(h); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("refusing non-loopback address %q", hostport)
	}
	return nil
}

// runLoad sends spec.count requests at fixed intervals of 1/rate, whatever
// the earlier ones are doing (open loop), and measures each latency from
// its scheduled send time, so a stall delays the clock of every request
// scheduled behind it (no coordinated omission). The run is bounded by the
// in-flight cap, the per-request timeout and the run deadline.
func runLoad(ctx context.Context, c *http.Client, spec runSpec) *result {
	n := spec.count
	out := make([]uint8, n)
	lat := make([]time.Duration, n)
	ttfb := make([]time.Duration, n)
	lag := make([]time.Duration, n)
	var samples [numOutcomes]string
	var mu sync.Mutex
	note := func(kind uint8, msg string) {
		mu.Lock()
		if samples[kind] == "" {
			samples[kind] = msg
		}
		mu.Unlock()
	}
	schedule := time.Duration(float64(n) / float64(spec.rate) * float64(time.Second))
	rctx, cancel := context.WithTimeout(ctx, schedule+spec.reqTimeout+spec.grace)
	defer cancel()

	var inflight atomic.Int64
	var wg sync.WaitGroup
	var lastDone atomic.Int64
	unlock := lockSchedulerThread()
	start := time.Now().Add(2 * time.Millisecond)
	for i := range n {
		at := start.Add(time.Duration(float64(i) * float64(time.Second) / float64(spec.rate)))
		for d := time.Until(at); d > 0; d = time.Until(at) {
			sleepPrecise(d)
		}
		if rctx.Err() != nil {
			out[i] = outAborted
			continue
		}
		if inflight.Load() >= int64(spec.maxInflight) {
			out[i] = outCap
			note(outCap, fmt.Sprintf("%d requests in flight", spec.maxInflight))
			continue
		}
		inflight.Add(1)
		wg.Go(func() {
			defer inflight.Add(-1)
			lag[i] = time.Since(at)
			var msg string
			out[i], lat[i], ttfb[i], msg = doOne(rctx, c, spec, spec.seqBase+int64(i), at)
			if out[i] != outOK {
				note(out[i], msg)
			}
			now := time.Now().UnixNano() // lastDone = max(lastDone, now)
			for old := lastDone.Load(); now > old; old = lastDone.Load() {
				if lastDone.CompareAndSwap(old, now) {
					break
				}
			}
		})
	}
	unlock()
	wg.Wait()
	if spec.dump != "" {
		writeDump(spec, out, lag, ttfb, lat)
	}
	r := &result{spec: spec, samples: samples, wall: time.Unix(0, lastDone.Load()).Sub(start)}
	for i, o := range out {
		r.counts[o]++
		if o == outOK {
			r.lat = append(r.lat, lat[i])
			if spec.stream {
				r.ttfb = append(r.ttfb, ttfb[i])
			}
		}
		if o != outCap && o != outAborted {
			r.lag = append(r.lag, lag[i])
		}
	}
	slices.Sort(r.lat)
	slices.Sort(r.ttfb)
	slices.Sort(r.lag)
	return r
}

var doneEvent = []byte("data: [DONE]\n\n")

// doOne sends request seq, reads the whole answer and checks it against
// the bytes the upstream sends for seq. Latencies count from at, the
// scheduled send time; ttfb is the time to the first body byte.
func doOne(ctx context.Context, c *http.Client, spec runSpec, seq int64, at time.Time) (outcome uint8, lat, ttfb time.Duration, msg string) {
	ctx, cancel := context.WithTimeout(ctx, spec.reqTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, spec.target.url, bytes.NewReader(requestBody(seq, spec.stream)))
	if err != nil {
		return outTransport, 0, 0, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	if spec.target.key != "" {
		req.Header.Set("Authorization", "Bearer "+spec.target.key)
	}
	resp, err := c.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return outTimeout, 0, 0, err.Error()
		}
		return outTransport, 0, 0, err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return outStatus, 0, 0, fmt.Sprintf("status %d: %s", resp.StatusCode, b)
	}
	body := make([]byte, 0, 4096)
	buf := make([]byte, 4096)
	var rerr error
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if len(body) == 0 {
				ttfb = time.Since(at)
			}
			body = append(body, buf[:n]...)
		}
		if err != nil {
			if err != io.EOF {
				rerr = err
			}
			break
		}
	}
	lat = time.Since(at)
	if !spec.stream {
		if rerr != nil {
			return outBody, 0, 0, "reading body: " + rerr.Error()
		}
		if want := completionBody(seq); !bytes.Equal(body, want) {
			return outBody, 0, 0, diff(body, want)
		}
		return outOK, lat, 0, ""
	}
	want := streamBody(seq, true)
	switch {
	case bytes.Equal(body, want):
		return outOK, lat, ttfb, ""
	case !bytes.HasSuffix(body, doneEvent):
		if rerr != nil {
			return outNoDone, 0, 0, fmt.Sprintf("read error after %d of %d bytes: %v", len(body), len(want), rerr)
		}
		return outNoDone, 0, 0, diff(body, want)
	default:
		return outContent, 0, 0, diff(body, want)
	}
}

// diff describes where got first differs from want.
func diff(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	clip := func(b []byte) []byte { return b[i:min(len(b), i+80)] }
	return fmt.Sprintf("got %d bytes, want %d; first difference at byte %d: got %q, want %q", len(got), len(want), i, clip(got), clip(want))
}

// writeDump writes per-request timings (µs) as CSV, for looking into
// stalls: scheduled offset, outcome, send lag, TTFB, latency.
func writeDump(spec runSpec, out []uint8, lag, ttfb, lat []time.Duration) {
	var b bytes.Buffer
	b.WriteString("sched_us,outcome,lag_us,ttfb_us,lat_us\n")
	for i := range out {
		at := time.Duration(float64(i) * float64(time.Second) / float64(spec.rate))
		fmt.Fprintf(&b, "%d,%s,%d,%d,%d\n", at.Microseconds(), outcomeNames[out[i]], lag[i].Microseconds(), ttfb[i].Microseconds(), lat[i].Microseconds())
	}
	if err := os.WriteFile(spec.dump, b.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bench: dump:", err)
	}
}

// pct returns the p-th percentile (nearest rank) of sorted d, 0 if empty.
func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	k := int(float64(len(d))*p/100+0.999999) - 1
	return d[max(0, min(k, len(d)-1))]
}
