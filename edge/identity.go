package edge

import (
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"time"

	pb "github.com/memproxy/memproxy/proto/memproxy/v1"
)

// identity returns the tags the edge sends with a request. The client is
// recognised from the request's headers; the user and host are the edge's;
// the project is the listener's.
func (p *project) identity(r *http.Request) *pb.Identity {
	id := &pb.Identity{
		User: p.d.opts.User, Project: p.name, Hostname: p.d.opts.Hostname, EdgeId: p.d.opts.EdgeID,
	}
	if p.d.opts.DetectClient != nil {
		id.Client, id.ClientPattern = p.d.opts.DetectClient(r.Header.Get)
	}
	if p.git != nil {
		id.GitRemote, id.GitBranch = p.git.get()
	}
	return id
}

// routingInfo serves GET /memory-routing/info: exactly what the edge would
// send for this request, without forwarding anything.
func (p *project) routingInfo(w http.ResponseWriter, r *http.Request) {
	id := p.identity(r)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(mustJSON(map[string]any{
		"user": id.User, "project": id.Project, "client": id.Client, "matched_pattern": id.ClientPattern,
		"hostname": id.Hostname, "edge_id": id.EdgeId, "git_remote": id.GitRemote, "git_branch": id.GitBranch,
		"gateway": p.d.opts.Gateway, "user_agent": r.Header.Get("User-Agent"),
	}))
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// gitInfo reads a project checkout's remote and branch, refreshed at most
// every gitTTL so that a branch switch shows up without a restart.
type gitInfo struct {
	dir    string
	mu     sync.Mutex
	at     time.Time
	remote string
	branch string
}

const gitTTL = 10 * time.Second

func newGitInfo(dir string) *gitInfo {
	if dir == "" {
		return nil
	}
	return &gitInfo{dir: dir}
}

func (g *gitInfo) get() (remote, branch string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if time.Since(g.at) > gitTTL {
		g.remote = redactURL(git(g.dir, "remote", "get-url", "origin"))
		g.branch = git(g.dir, "rev-parse", "--abbrev-ref", "HEAD")
		g.at = time.Now()
	}
	return g.remote, g.branch
}

func git(dir string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// redactURL drops credentials from a remote such as https://user:token@host/x.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	if at := strings.LastIndex(strings.SplitN(rest, "/", 2)[0], "@"); at >= 0 {
		rest = rest[at+1:]
	}
	return scheme + "://" + rest
}
