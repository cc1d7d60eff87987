package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/memproxy/memproxy/config"
)

// transport decides how the edge talks to the gateway: TLS verified with
// the login's CA file or the system roots; plaintext only for a loopback
// gateway or with an explicit --insecure login.
//
// With several replicas the certificate of each is checked against its own
// host name (the edge sets it per address); with one, against its name.
func transport(login *config.Edge) (*tls.Config, string, error) {
	var hosts []string
	loopback := true
	for _, a := range config.SplitGateways(login.Gateway) {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			return nil, "", fmt.Errorf("gateway address %q: %w", a, err)
		}
		hosts = append(hosts, host)
		loopback = loopback && isLoopback(host)
	}
	host := ""
	if len(hosts) == 1 {
		host = hosts[0]
	}
	switch {
	case login.CAFile != "":
		pem, err := os.ReadFile(login.CAFile)
		if err != nil {
			return nil, "", fmt.Errorf("reading the CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, "", fmt.Errorf("%s holds no PEM certificate", login.CAFile)
		}
		return &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS12}, "TLS (CA " + login.CAFile + ")", nil
	case login.Insecure:
		return nil, "plaintext (--insecure)", nil
	case len(hosts) > 0 && loopback:
		return nil, "plaintext (loopback gateway)", nil
	default:
		return &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}, "TLS (system roots)", nil
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// errNoLogin is the message for a machine that never ran memedge login.
var errNoLogin = errors.New("not logged in: run 'memedge login --gateway HOST:PORT --key KEY' first")
