package edge

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	pb "github.com/memproxy/memproxy/proto/memproxy/v1"
	"github.com/memproxy/memproxy/proto/tunnel"
)

// keyCreds sends the user's gateway key with every call.
type keyCreds struct {
	key        string
	requireTLS bool
}

func (k keyCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + k.key}, nil
}

func (k keyCreds) RequireTransportSecurity() bool { return k.requireTLS }

// dialGateway opens the (lazy, self-reconnecting) connection to the gateway.
func dialGateway(addr, key string) (*grpc.ClientConn, pb.GatewayClient, error) {
	cc, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(keyCreds{key: key}),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 30 * time.Second, Timeout: 10 * time.Second, PermitWithoutStream: true}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(tunnel.ChunkSize+64<<10)),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("gateway address %q: %w", addr, err)
	}
	return cc, pb.NewGatewayClient(cc), nil
}
