package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/edge"
)

// maxSkew is the clock difference doctor warns about: usage rows and key
// expiry compare times across machines.
const maxSkew = 5 * time.Second

// checkup prints one line per check and remembers whether any failed.
type checkup struct {
	w      io.Writer
	failed bool
}

func (c *checkup) ok(format string, a ...any)   { fmt.Fprintf(c.w, "  ok    "+format+"\n", a...) }
func (c *checkup) warn(format string, a ...any) { fmt.Fprintf(c.w, "  warn  "+format+"\n", a...) }
func (c *checkup) fail(format string, a ...any) {
	c.failed = true
	fmt.Fprintf(c.w, "  FAIL  "+format+"\n", a...)
}

func doctorCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "doctor [CLIENT]",
		Short: "check the login, the gateway, the key, the registry, the ports and the clock; or one client's round trip",
		Long: `Without an argument, check the login, the gateway, the key, the registry,
the ports and the clock.

With a client (claude-code, codex, continue, jetbrains), make one real
request the way that client does (its User-Agent, dialect and path) to
where its own configuration points, and say in one line what works or
what is wrong. The request is marked x-memory-disable, so it is logged
but not remembered.`,
		Example:   "  memedge doctor\n  memedge doctor claude-code",
		Args:      cobra.MaximumNArgs(1),
		ValidArgs: []string{"claude-code", "codex", "continue", "jetbrains"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				return doctorClient(cmd.Context(), cmd.OutOrStdout(), args[0])
			}
			c := &checkup{w: cmd.OutOrStdout()}
			h, err := home()
			if err != nil {
				return err
			}
			login := checkLogin(c)
			if login != nil {
				checkGateway(cmd.Context(), c, h, login)
			}
			checkRegistry(cmd.Context(), c, h)
			if c.failed {
				return errors.New("some checks failed")
			}
			fmt.Fprintln(c.w, "all checks passed")
			return nil
		},
	}
}

func checkLogin(c *checkup) *config.Edge {
	path, err := config.EdgePath()
	if err != nil {
		c.fail("login file: %v", err)
		return nil
	}
	login, err := config.LoadEdge(path)
	if errors.Is(err, config.ErrNoLogin) {
		c.fail("not logged in: run 'memedge login --gateway HOST:PORT --key KEY'")
		return nil
	}
	if err != nil {
		c.fail("login file: %v", err)
		return nil
	}
	// Windows reports no Unix permission bits (its ACLs keep the file the
	// user's); elsewhere group or other bits expose the key.
	if fi, err := os.Stat(path); err == nil && runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		c.fail("%s is readable by others (mode %o): chmod 600 it, it holds your key", path, fi.Mode().Perm())
	} else {
		c.ok("login %s (gateway %s, user %s)", path, login.Gateway, login.User)
	}
	return login
}

func checkGateway(ctx context.Context, c *checkup, h string, login *config.Edge) {
	tlsCfg, mode, err := transport(login)
	if err != nil {
		c.fail("transport: %v", err)
		return
	}
	if login.Insecure {
		c.warn("the tunnel is plaintext (--insecure): your key and prompts cross the network unencrypted")
	} else {
		c.ok("transport: %s", mode)
	}
	id, _ := edgeID(h)
	hostname, _ := os.Hostname()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := edge.Probe(pctx, login.Gateway, login.Key.Reveal(), tlsCfg, id, hostname)
	switch status.Code(err) {
	case codes.OK:
		c.ok("gateway %s answers (version %s, %d models, round trip %s)", login.Gateway, res.Version, len(res.Models), res.RTT.Round(time.Microsecond))
		who := res.User
		if res.Admin {
			who = "the master key"
		}
		c.ok("key accepted (%s)", who)
	case codes.Unauthenticated:
		c.ok("gateway %s answers", login.Gateway)
		c.fail("the gateway refused the key: run 'memedge login' with a valid key")
		return
	default:
		c.fail("gateway %s not reachable: %s", login.Gateway, status.Convert(err).Message())
		return
	}
	if skew := res.Skew.Abs(); skew > maxSkew {
		c.warn("clock differs from the gateway's by %s: fix NTP on this machine or the gateway", skew.Round(time.Millisecond))
	} else {
		c.ok("clock within %s of the gateway's", maxSkew)
	}
	checkReplicas(ctx, c, login, tlsCfg, id, hostname)
}

// checkReplicas probes each replica on its own when the login names
// several (a comma list, or a DNS name with several addresses): one that
// does not answer is a warning while another does.
func checkReplicas(ctx context.Context, c *checkup, login *config.Edge, tlsCfg *tls.Config, id, hostname string) {
	reps := replicas(ctx, login.Gateway)
	if len(reps) < 2 {
		return
	}
	for _, r := range reps {
		cfg := tlsCfg
		if cfg != nil && r.name != "" {
			cfg = cfg.Clone()
			cfg.ServerName = r.name
		}
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		res, err := edge.Probe(pctx, r.addr, login.Key.Reveal(), cfg, id, hostname)
		cancel()
		if err != nil {
			c.warn("replica %s: not serving (%s); requests go to the others", r, status.Convert(err).Message())
			continue
		}
		c.ok("replica %s: serving (version %s, round trip %s)", r, res.Version, res.RTT.Round(time.Microsecond))
	}
}

// replica is one gateway address doctor probes, with the DNS name it came
// from ("" when given as is).
type replica struct{ addr, name string }

func (r replica) String() string {
	if r.name == "" {
		return r.addr
	}
	return r.addr + " (" + r.name + ")"
}

// replicas lists the gateway's replicas: each address of a comma list, or
// every address one DNS name resolves to.
func replicas(ctx context.Context, gateway string) []replica {
	addrs := config.SplitGateways(gateway)
	if len(addrs) != 1 {
		out := make([]replica, len(addrs))
		for i, a := range addrs {
			out[i] = replica{addr: a}
		}
		return out
	}
	host, port, err := net.SplitHostPort(addrs[0])
	if err != nil || net.ParseIP(host) != nil {
		return []replica{{addr: addrs[0]}}
	}
	lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupHost(lctx, host)
	if err != nil || len(ips) < 2 {
		return []replica{{addr: addrs[0]}}
	}
	out := make([]replica, len(ips))
	for i, ip := range ips {
		out[i] = replica{addr: net.JoinHostPort(ip, port), name: host}
	}
	return out
}

func checkRegistry(ctx context.Context, c *checkup, h string) {
	var warnings strings.Builder
	reg, err := openRegistry(h, slog.New(slog.NewTextHandler(&warnings, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		c.fail("registry: %v", err)
		return
	}
	entries, err := reg.List()
	if err != nil {
		c.fail("registry: %v", err)
		return
	}
	if warnings.Len() > 0 {
		c.warn("registry: %s", strings.TrimSpace(warnings.String()))
	} else {
		c.ok("registry: %d projects", len(entries))
	}
	st, derr := newClient(h).Status(ctx)
	if derr != nil {
		c.warn("daemon not running (memedge start launches it)")
	} else {
		c.ok("daemon running (pid %d, %d projects served)", st.PID, len(st.Projects))
	}
	for _, e := range entries {
		if derr == nil && served(st, e.Project) {
			if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", e.Port), time.Second); err != nil {
				c.fail("project %s should be served on port %d but the port does not answer", e.Project, e.Port)
			} else {
				conn.Close()
				c.ok("project %s served on port %d", e.Project, e.Port)
			}
			continue
		}
		if ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", e.Port)); err != nil {
			c.warn("port %d of project %s is taken by another program: the next start will move the project", e.Port, e.Project)
		} else {
			ln.Close()
		}
	}
}
