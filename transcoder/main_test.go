package main

// The transcoder's own duties, against a stand-in Grids server: what reaches gRPC from an HTTP
// call. The platform's answers through it are tested in tests/integration/test_json_transcoding.py.

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	gridsv1 "civicgrid/transcoder/gen/civicgrid/grids/v1"
)

// echoGrids answers GetNode with the caller's authorization metadata as the node's name.
type echoGrids struct {
	gridsv1.UnimplementedGridsServer
}

func (echoGrids) GetNode(ctx context.Context, request *gridsv1.GetNodeRequest) (*gridsv1.Node, error) {
	incoming, _ := metadata.FromIncomingContext(ctx)
	return &gridsv1.Node{Id: request.GetId(), DisplayName: strings.Join(incoming.Get("authorization"), "|")}, nil
}

func startTranscoder(t *testing.T) *httptest.Server {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := grpc.NewServer()
	gridsv1.RegisterGridsServer(server, echoGrids{})
	go server.Serve(listener)
	t.Cleanup(server.Stop)
	conn, err := grpc.NewClient(listener.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	handler, err := newHandler(t.Context(), conn, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	transcoder := httptest.NewServer(handler)
	t.Cleanup(transcoder.Close)
	return transcoder
}

func TestBearerTokenGoesOnOnceAsAuthorizationMetadata(t *testing.T) {
	transcoder := startTranscoder(t)
	request, _ := http.NewRequest(http.MethodGet, transcoder.URL+"/v1/nodes/n-1", nil)
	request.Header.Set("Authorization", "Bearer abc")
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		t.Fatal(err)
	}
	defer response.Body.Close()
	var node map[string]any
	json.NewDecoder(response.Body).Decode(&node)
	if response.StatusCode != http.StatusOK || node["id"] != "n-1" || node["displayName"] != "Bearer abc" {
		t.Fatalf("status %d, node %v", response.StatusCode, node)
	}
}

func TestMisspeltFieldIsBadRequest(t *testing.T) {
	transcoder := startTranscoder(t)
	response, err := http.Post(transcoder.URL+"/v1/nodes", "application/json", strings.NewReader(`{"displayNam": "x"}`))
	if err != nil {
		t.Fatal(err)
	}
	response.Body.Close()
	if response.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", response.StatusCode)
	}
}
