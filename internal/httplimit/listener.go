// Package httplimit bounds what one client can hold on a server: the
// number of connections one source address keeps open. Both memedge and
// memgateway use it; body and header times are bounded by http.Server
// (ReadTimeout, ReadHeaderTimeout, IdleTimeout).
package httplimit

import (
	"net"
	"sync"
)

// PerSourceListener wraps ln so that one source IP address holds at most
// max connections at a time; a connection over the cap is closed as soon as
// it is accepted, before any byte is read, and Accept goes on with the next
// one. refused, when not nil, is called with the address of each refused
// connection (keep it cheap: it runs in the accept loop). max <= 0 returns
// ln unchanged.
func PerSourceListener(ln net.Listener, max int, refused func(ip string)) net.Listener {
	if max <= 0 {
		return ln
	}
	return &perSource{Listener: ln, max: max, refused: refused, open: map[string]int{}}
}

type perSource struct {
	net.Listener
	max     int
	refused func(string)

	mu   sync.Mutex
	open map[string]int
}

func (l *perSource) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := sourceIP(c.RemoteAddr())
		if l.take(ip) {
			return &countedConn{Conn: c, release: func() { l.release(ip) }}, nil
		}
		_ = c.Close()
		if l.refused != nil {
			l.refused(ip)
		}
	}
}

func (l *perSource) take(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[ip] >= l.max {
		return false
	}
	l.open[ip]++
	return true
}

func (l *perSource) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[ip]--; l.open[ip] <= 0 {
		delete(l.open, ip)
	}
}

func sourceIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// countedConn gives its slot back once, on the first Close.
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
