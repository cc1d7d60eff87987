package e2e

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/provider/providertest"
)

// TestTunnelOverTLS: the gateway serves gRPC and HTTP with a certificate the
// test makes; the edge verifies it with the CA file given at login.
func TestTunnelOverTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	g := prepareGateway(t, modelConfig("http://127.0.0.1:9"), "--tls-cert", certFile, "--tls-key", keyFile)
	g.roots = pool
	g.start()
	e := newEdge(t, g, "tls-user", "--ca-file", certFile)
	url := e.start("secure")
	resp, body := chat(t, url, `{"model":"mock","messages":[{"role":"user","content":"over tls"}]}`, "curl/8")
	if resp.StatusCode != 200 || !strings.Contains(body, "over tls") {
		t.Fatalf("through a TLS tunnel: %d %s", resp.StatusCode, body)
	}
	// An edge that does not trust the certificate cannot use the gateway.
	e2 := newEdge(t, g, "untrusting")
	bad := e2.start("untrusting")
	resp, _ = chat(t, bad, `{"model":"mock","messages":[{"role":"user","content":"x"}]}`, "curl/8")
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("an edge without the CA got status %d, want 502", resp.StatusCode)
	}
	var rows []map[string]any
	waitFor(t, "usage row", func() bool { rows = g.usage("project=secure"); return len(rows) == 1 })
	if rows[0]["user"] != "tls-user" {
		t.Errorf("row %v", rows[0])
	}
}

// selfSigned writes a CA-signed-by-itself certificate for 127.0.0.1.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "memproxy test gateway"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestParallelStartsFromSeparateProcesses: many `memedge start` processes at
// once, no daemon running yet: one daemon comes up and every project gets
// its own port.
func TestParallelStartsFromSeparateProcesses(t *testing.T) {
	g := startGateway(t, modelConfig("http://127.0.0.1:9"))
	e := newEdge(t, g, "carol")
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	outs := make([]string, n)
	for i := range n {
		wg.Go(func() {
			cmd := exec.Command(filepath.Join(bin, "memedge"), "start", "--project", fmt.Sprintf("p%d", i))
			cmd.Env = e.env
			b, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(b), err
		})
	}
	wg.Wait()
	ports := map[string]string{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("start p%d: %v\n%s", i, errs[i], outs[i])
		}
		line := strings.SplitN(outs[i], "\n", 2)[0]
		url := line[strings.LastIndex(line, " ")+1:]
		if other, dup := ports[url]; dup {
			t.Errorf("p%d and %s both got %s", i, other, url)
		}
		ports[url] = fmt.Sprintf("p%d", i)
	}
	out := e.run("list", "--json")
	if c := strings.Count(out, `"running": true`); c != n {
		t.Errorf("%d running projects after %d starts:\n%s", c, n, out)
	}
}

// TestGatewayRestart: during a gateway outage the edge answers 503 with
// Retry-After; once the gateway is back the next request works.
func TestGatewayRestart(t *testing.T) {
	g := startGateway(t, modelConfig("http://127.0.0.1:9"))
	e := newEdge(t, g, "dave")
	url := e.start("restart")
	body := `{"model":"mock","messages":[{"role":"user","content":"ping"}]}`
	if resp, b := chat(t, url, body, "curl/8"); resp.StatusCode != 200 {
		t.Fatalf("before: %d %s", resp.StatusCode, b)
	}
	g.stop()
	resp, b := chat(t, url, body, "curl/8")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(b, g.grpcAddr) {
		t.Errorf("during the outage: %d Retry-After=%q %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	g.start()
	if resp, b := chat(t, url, body, "curl/8"); resp.StatusCode != 200 || !strings.Contains(b, "ping") {
		t.Errorf("after the gateway returned: %d %s", resp.StatusCode, b)
	}
}

// TestClientDisconnectReachesUpstream: a client that leaves mid-stream
// cancels the upstream call, through edge, tunnel and gateway.
func TestClientDisconnectReachesUpstream(t *testing.T) {
	fake := providertest.NewOpenAI(t)
	fake.Hold = make(chan struct{})
	g := startGateway(t, modelConfig(fake.URL))
	e := newEdge(t, g, "erin")
	url := e.start("cancel")
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-e2e","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(line, `"Hello"`) {
			break
		}
	}
	cancel()
	select {
	case <-fake.Cancelled():
	case <-time.After(15 * time.Second):
		t.Fatal("the upstream never saw the client leave")
	}
	var rows []map[string]any
	waitFor(t, "usage row", func() bool { rows = g.usage("project=cancel"); return len(rows) == 1 })
	if rows[0]["status"] != float64(499) || rows[0]["error_type"] != "client_cancelled" {
		t.Errorf("row %v", rows[0])
	}
}
