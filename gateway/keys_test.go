package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/gateway/usage"
	pb "github.com/memproxy/memproxy/proto/memproxy/v1"
)

const chatBody = `{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}`

// mintKey stores a per-user key in the gateway's database, as
// 'memgateway keys create' does, and returns the secret.
func mintKey(t *testing.T, h *harness, spec auth.KeyRecord) (string, auth.KeyRecord) {
	t.Helper()
	key, rec, err := auth.Mint(t.Context(), h.srv.db, auth.Principal{Admin: true}, spec, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return key, rec
}

// wantError checks an OpenAI-dialect error answer.
func wantError(t *testing.T, resp *http.Response, body string, status int, typ, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	if _, gotType, gotCode := decodeError(t, body); gotType != typ || gotCode != code {
		t.Errorf("error type %q code %q, want %q %q: %s", gotType, gotCode, typ, code, body)
	}
}

// rowByID returns the usage row of a response.
func rowByID(t *testing.T, rows []usage.Record, resp *http.Response) usage.Record {
	t.Helper()
	id := resp.Header.Get("X-Request-Id")
	for _, r := range rows {
		if r.RequestID == id {
			return r
		}
	}
	t.Fatalf("no usage row for request %q among %d", id, len(rows))
	return usage.Record{}
}

func TestUserKeyOverHTTP(t *testing.T) {
	h := newHarness(t, "")
	key, rec := mintKey(t, h, auth.KeyRecord{User: "alice"})
	bearer := "Bearer " + key

	ok, body := h.post(chatBody, "Authorization", bearer, "X-Memory-User-Id", "mallory", "X-Memory-Project", "shop")
	if ok.StatusCode != 200 {
		t.Fatalf("status %d: %s", ok.StatusCode, body)
	}
	viaXAPIKey, body := h.post(chatBody, "Authorization", "", "X-Api-Key", key)
	if viaXAPIKey.StatusCode != 200 {
		t.Fatalf("x-api-key: status %d: %s", viaXAPIKey.StatusCode, body)
	}
	wrong, body := h.post(chatBody, "Authorization", "Bearer "+auth.NewKey(auth.KeyPrefix))
	wantError(t, wrong, body, 401, "authentication_error", "invalid_api_key")
	// Revoked in this process: refused at once.
	if err := h.srv.keys.Revoke(t.Context(), rec.ID); err != nil {
		t.Fatal(err)
	}
	revoked, body := h.post(chatBody, "Authorization", bearer)
	wantError(t, revoked, body, 401, "authentication_error", "invalid_api_key")
	if strings.Contains(body, key) {
		t.Errorf("the answer echoes the key: %s", body)
	}

	rows := h.rows()
	if r := rowByID(t, rows, ok); r.User != "alice" || r.Project != "shop" || r.Status != 200 {
		t.Errorf("row of the key's request: user %q project %q status %d; want alice, shop, 200", r.User, r.Project, r.Status)
	}
	if r := rowByID(t, rows, viaXAPIKey); r.User != "alice" || r.Status != 200 {
		t.Errorf("row of the x-api-key request: %+v", r)
	}
	for _, resp := range []*http.Response{wrong, revoked} {
		if r := rowByID(t, rows, resp); r.Status != 401 || r.ErrorType != "authentication_error" || r.User != "" {
			t.Errorf("row of a refused key: status %d error %q user %q", r.Status, r.ErrorType, r.User)
		}
	}
}

func TestProjectRestrictedKey(t *testing.T) {
	h := newHarness(t, "")
	key, _ := mintKey(t, h, auth.KeyRecord{User: "alice", Project: "shop"})
	bearer := "Bearer " + key

	own, body := h.post(chatBody, "Authorization", bearer, "X-Memory-Project", "shop")
	if own.StatusCode != 200 {
		t.Fatalf("own project: status %d: %s", own.StatusCode, body)
	}
	implied, body := h.post(chatBody, "Authorization", bearer)
	if implied.StatusCode != 200 {
		t.Fatalf("no project header: status %d: %s", implied.StatusCode, body)
	}
	other, body := h.post(chatBody, "Authorization", bearer, "X-Memory-Project", "bank")
	wantError(t, other, body, 403, "permission_error", "project_not_allowed")

	// In the Anthropic dialect too.
	req, _ := http.NewRequest(http.MethodPost, h.httpURL+"/v1/messages",
		strings.NewReader(`{"model":"gpt-test","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("X-Api-Key", key)
	req.Header.Set("X-Memory-Project", "bank")
	req.Header.Set("Content-Type", "application/json")
	ant, err := httpDo(req)
	if err != nil {
		t.Fatal(err)
	}
	if ant.StatusCode != 403 || !strings.Contains(ant.body, `"type":"error"`) || !strings.Contains(ant.body, `"permission_error"`) {
		t.Errorf("Anthropic dialect: status %d: %s", ant.StatusCode, ant.body)
	}

	rows := h.rows()
	if r := rowByID(t, rows, implied); r.Project != "shop" || r.User != "alice" {
		t.Errorf("no header: row project %q user %q, want the key's", r.Project, r.User)
	}
	for _, resp := range []*http.Response{other, ant.Response} {
		if r := rowByID(t, rows, resp); r.Status != 403 || r.ErrorType != "permission_error" || r.User != "alice" || r.Project != "bank" {
			t.Errorf("row of a refused project: %+v", r)
		}
	}
	if n := len(h.fake.Requests()); n != 2 {
		t.Errorf("upstream saw %d requests, want 2 (refusals never reach it)", n)
	}
}

func TestModelAllowList(t *testing.T) {
	h := newHarness(t, "")
	key, _ := mintKey(t, h, auth.KeyRecord{User: "alice", Models: []string{"mock"}})
	bearer := "Bearer " + key
	allowed, body := h.post(`{"model":"mock","messages":[{"role":"user","content":"hi"}]}`, "Authorization", bearer)
	if allowed.StatusCode != 200 {
		t.Fatalf("allowed model: status %d: %s", allowed.StatusCode, body)
	}
	denied, body := h.post(chatBody, "Authorization", bearer)
	wantError(t, denied, body, 403, "permission_error", "model_not_allowed")
	// A model that does not exist is refused the same way: the list does
	// not reveal which others exist.
	unknown, body := h.post(`{"model":"nope","messages":[]}`, "Authorization", bearer)
	wantError(t, unknown, body, 403, "permission_error", "model_not_allowed")
	if n := len(h.fake.Requests()); n != 0 {
		t.Errorf("upstream saw %d requests", n)
	}
	// The model list shows only the allowed models.
	req, _ := http.NewRequest(http.MethodGet, h.httpURL+"/v1/models", nil)
	req.Header.Set("Authorization", bearer)
	if r, err := httpDo(req); err != nil || !strings.Contains(r.body, `"id":"mock"`) || strings.Contains(r.body, "gpt-test") {
		t.Errorf("model list for a key limited to mock: %v %s", err, r.body)
	}
	if r := rowByID(t, h.rows(), denied); r.Status != 403 || r.Model != "gpt-test" || r.User != "alice" {
		t.Errorf("row of a refused model: %+v", r)
	}
}

// forward sends one request through the tunnel, as an edge does, and
// returns the status and body.
func forward(t *testing.T, h *harness, key string, tags *pb.Identity, path, body string) (int, string) {
	t.Helper()
	cc, err := grpc.NewClient(h.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+key), 10*time.Second)
	defer cancel()
	stream, err := pb.NewGatewayClient(cc).Forward(ctx)
	if err != nil {
		t.Fatal(err)
	}
	head := &pb.RequestHead{Method: http.MethodPost, Path: path, Identity: tags, ContentLength: int64(len(body)),
		Headers: []*pb.Header{{Name: "Content-Type", Values: []string{"application/json"}}}}
	if err := stream.Send(&pb.ForwardRequest{Msg: &pb.ForwardRequest_Head{Head: head}}); err != nil {
		t.Fatal(err)
	}
	// io.EOF: the gateway answered without reading the body (a refusal);
	// the answer is read below.
	if err := stream.Send(&pb.ForwardRequest{Msg: &pb.ForwardRequest_Body{Body: []byte(body)}}); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	var code int
	var out strings.Builder
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return code, out.String()
		}
		if err != nil {
			t.Fatalf("Forward: %v", err)
		}
		if hd := m.GetHead(); hd != nil {
			code = int(hd.GetStatus())
		}
		out.Write(m.GetBody())
	}
}

func TestUserKeyOverTunnel(t *testing.T) {
	h := newHarness(t, "")
	key, _ := mintKey(t, h, auth.KeyRecord{User: "alice", Project: "shop"})

	cc, err := grpc.NewClient(h.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	hello := func(k string) (*pb.HelloResponse, error) {
		ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+k)
		return pb.NewGatewayClient(cc).Hello(ctx, &pb.HelloRequest{EdgeId: "e1"})
	}
	if resp, err := hello(key); err != nil || resp.GetUser() != "alice" || resp.GetAdmin() {
		t.Errorf("Hello with a user key: %v, %v", resp, err)
	}
	if _, err := hello(auth.NewKey(auth.KeyPrefix)); status.Code(err) != codes.Unauthenticated {
		t.Errorf("Hello with a wrong key: %v, want Unauthenticated", err)
	}

	// The tags claim another user: the key's user is used.
	code, body := forward(t, h, key, &pb.Identity{User: "mallory", Project: "shop", EdgeId: "e1"}, "/v1/chat/completions", chatBody)
	if code != 200 {
		t.Fatalf("own project: %d %s", code, body)
	}
	code, body = forward(t, h, key, &pb.Identity{User: "mallory", EdgeId: "e1"}, "/v1/chat/completions", chatBody)
	if code != 200 {
		t.Fatalf("no project tag: %d %s", code, body)
	}
	code, body = forward(t, h, key, &pb.Identity{Project: "bank", EdgeId: "e1"}, "/v1/chat/completions", chatBody)
	if _, typ, _ := decodeError(t, body); code != 403 || typ != "permission_error" {
		t.Errorf("other project tag: %d %s", code, body)
	}
	code, body = forward(t, h, "sk-mp-wrong", &pb.Identity{User: "alice", EdgeId: "e1"}, "/v1/chat/completions", chatBody)
	if _, typ, _ := decodeError(t, body); code != 401 || typ != "authentication_error" {
		t.Errorf("wrong key: %d %s", code, body)
	}

	rows := h.rows()
	if len(rows) != 4 {
		t.Fatalf("%d usage rows, want 4", len(rows))
	}
	want := []struct {
		status        int
		user, project string
	}{{200, "alice", "shop"}, {200, "alice", "shop"}, {403, "alice", "bank"}, {401, "", ""}}
	for i, w := range want {
		if r := rows[i]; r.Status != w.status || r.User != w.user || r.Project != w.project || (w.user != "" && r.Ingress != "tunnel") {
			t.Errorf("row %d: status %d user %q project %q ingress %q; want %d %q %q", i, r.Status, r.User, r.Project, r.Ingress, w.status, w.user, w.project)
		}
	}
}
