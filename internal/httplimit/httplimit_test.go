package httplimit

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

func TestPerSourceListenerCapsConnections(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := make(chan string, 10)
	ln := PerSourceListener(raw, 2, func(ip string) { refused <- ip })
	defer ln.Close()
	closed := make(chan struct{}, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				fmt.Fprint(c, "hi")
				_, _ = io.Copy(io.Discard, c) // until the client closes
				c.Close()
				closed <- struct{}{}
			}()
		}
	}()
	dial := func() (net.Conn, string) {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		b := make([]byte, 2)
		n, _ := io.ReadFull(c, b)
		return c, string(b[:n])
	}
	c1, got1 := dial()
	c2, got2 := dial()
	defer c2.Close()
	if got1 != "hi" || got2 != "hi" {
		t.Fatalf("first two connections: %q %q", got1, got2)
	}
	c3, got3 := dial()
	c3.Close()
	if got3 != "" {
		t.Fatalf("third connection from one address got %q, want it closed", got3)
	}
	if ip := <-refused; ip != "127.0.0.1" {
		t.Errorf("refused %q", ip)
	}
	c1.Close()
	<-closed // the server closed its side: the slot is free again
	c4, got4 := dial()
	defer c4.Close()
	if got4 != "hi" {
		t.Fatalf("a connection after one closed got %q", got4)
	}
}
