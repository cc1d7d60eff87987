package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
	info := map[string]any{
		"user": id.User, "project": id.Project, "client": id.Client, "matched_pattern": id.ClientPattern,
		"hostname": id.Hostname, "edge_id": id.EdgeId, "git_remote": id.GitRemote, "git_branch": id.GitBranch,
		"gateway": p.d.opts.Gateway, "user_agent": r.Header.Get("User-Agent"),
	}
	// The gateway's view (the user it accepts, the memory scope and
	// backend), when it answers within a moment.
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if b, err := p.roundTrip(ctx, http.MethodGet, "/memory-routing/info", id); err == nil {
		var gv map[string]any
		if json.Unmarshal(b, &gv) == nil {
			info["gateway_view"] = gv
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(mustJSON(info))
}

// roundTrip makes one small body-less call through the tunnel and returns
// the answer's body when its status is 2xx.
func (p *project) roundTrip(ctx context.Context, method, path string, id *pb.Identity) ([]byte, error) {
	stream, err := p.d.client.Forward(ctx)
	if err != nil {
		return nil, err
	}
	head := &pb.RequestHead{Method: method, Path: path, Identity: id}
	if err := stream.Send(&pb.ForwardRequest{Msg: &pb.ForwardRequest_Head{Head: head}}); err != nil {
		return nil, err
	}
	_ = stream.CloseSend()
	first, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	if st := first.GetHead().GetStatus(); st < 200 || st > 299 {
		return nil, fmt.Errorf("gateway answered %d", st)
	}
	var b []byte
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
		if b = append(b, m.GetBody()...); len(b) > 1<<20 {
			return nil, errors.New("answer too large")
		}
	}
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
