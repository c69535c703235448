// civicgrid-transcoder serves every gRPC method of the gateway as HTTP/JSON, by the
// google.api.http annotations in the protos (grpc-gateway). It holds no logic of its own: the
// caller's bearer token goes on as gRPC metadata and the gateway authenticates, authorises and
// validates exactly as for a gRPC client.
//
// Environment: TRANSCODER_GATEWAY (gRPC address, default 127.0.0.1:50051), TRANSCODER_PORT
// (HTTP port, default 8082). `civicgrid-transcoder healthcheck` asks a running one's /healthz,
// for a container health check in an image that has no shell or curl.
package main

import (
	"context"
	_ "embed"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	// Registers google.rpc.BadRequest and the other error details, so the JSON error body
	// carries them as typed objects rather than failing to resolve their Any type.
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	gridsv1 "civicgrid/transcoder/gen/civicgrid/grids/v1"
	notificationsv1 "civicgrid/transcoder/gen/civicgrid/notifications/v1"
	residentsv1 "civicgrid/transcoder/gen/civicgrid/residents/v1"
	ticketsv1 "civicgrid/transcoder/gen/civicgrid/tickets/v1"
	volunteersv1 "civicgrid/transcoder/gen/civicgrid/volunteers/v1"
)

// The OpenAPI (Swagger 2.0) document protoc-gen-openapiv2 made from the same protos, merged.
//
//go:embed gen/openapi/civicgrid.swagger.json
var openAPIDocument []byte

// Larger than any request the gateway takes (gRPC's 4 MiB, JSON being wordier), so the limit
// only stops a body no method could use.
const maxBodyBytes = 16 << 20

var registrations = []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
	gridsv1.RegisterGridsHandler,
	notificationsv1.RegisterNotificationsHandler,
	residentsv1.RegisterResidentsHandler,
	ticketsv1.RegisterTicketsHandler,
	volunteersv1.RegisterVolunteersHandler,
}

func main() {
	port := envOr("TRANSCODER_PORT", "8082")
	if len(os.Args) == 2 && os.Args[1] == "healthcheck" {
		os.Exit(healthcheck(port))
	}
	if err := run(envOr("TRANSCODER_GATEWAY", "127.0.0.1:50051"), net.JoinHostPort("", port)); err != nil {
		slog.Error("transcoder stopped", "error", err)
		os.Exit(1)
	}
}

func run(gatewayAddress, address string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	conn, err := grpc.NewClient(gatewayAddress, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(callMetrics(registry)))
	if err != nil {
		return err
	}
	defer conn.Close()
	handler, err := newHandler(ctx, conn, registry)
	if err != nil {
		return err
	}
	// No write timeout: WatchEvents streams for as long as the partner listens.
	server := &http.Server{Addr: address, Handler: handler, ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout: 2 * time.Minute}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		server.Shutdown(shutdown)
	}()
	slog.Info("transcoder listening", "address", address, "gateway", gatewayAddress)
	if err := server.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newHandler routes the annotated methods, the OpenAPI document, health and metrics.
func newHandler(ctx context.Context, conn *grpc.ClientConn, registry *prometheus.Registry) (http.Handler, error) {
	api, err := newGatewayMux(ctx, conn)
	if err != nil {
		return nil, err
	}
	routes := http.NewServeMux()
	routes.Handle("/", http.MaxBytesHandler(api, maxBodyBytes))
	routes.HandleFunc("GET /openapi.json", serveOpenAPI)
	routes.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	routes.HandleFunc("GET /readyz", readiness(healthpb.NewHealthClient(conn)))
	routes.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	return routes, nil
}

func newGatewayMux(ctx context.Context, conn *grpc.ClientConn) (*runtime.ServeMux, error) {
	mux := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{Marshaler: &runtime.JSONPb{
			// Zero scalars, empty lists and maps are written out, as grpc-gateway does by default,
			// but an unset message is left out rather than written as null.
			MarshalOptions: protojson.MarshalOptions{EmitDefaultValues: true},
			// A misspelt field is an error (400), not silently dropped as grpc-gateway would.
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}}),
		// Authorization always goes on as `authorization` metadata (grpc-gateway does that for
		// every header matcher); besides it only the request id, so logs join up across the hop.
		runtime.WithIncomingHeaderMatcher(forwardedHeader),
		runtime.WithOutgoingHeaderMatcher(returnedHeader),
	)
	for _, register := range registrations {
		if err := register(ctx, mux, conn); err != nil {
			return nil, err
		}
	}
	return mux, nil
}

func forwardedHeader(key string) (string, bool) {
	if key == "X-Request-Id" {
		return "x-request-id", true
	}
	return "", false
}

func returnedHeader(key string) (string, bool) {
	if key == "x-request-id" {
		return "X-Request-Id", true
	}
	return "", false
}

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPIDocument)
}

// readiness answers 200 while the gateway's grpc.health.v1 Check for the whole server ("")
// says SERVING, which the gateway reports only when every backing service is up.
func readiness(health healthpb.HealthClient) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		answer, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil || answer.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			http.Error(w, "gateway not serving", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	}
}

// callMetrics counts and times each unary call to the gateway by method and gRPC code.
func callMetrics(registry *prometheus.Registry) grpc.UnaryClientInterceptor {
	seconds := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "civicgrid_transcoder_call_seconds",
		Help: "Calls the transcoder made to the gateway, by gRPC method and code.",
	}, []string{"method", "code"})
	registry.MustRegister(seconds)
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
		invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		started := time.Now()
		err := invoker(ctx, method, req, reply, cc, opts...)
		seconds.WithLabelValues(method, status.Code(err).String()).Observe(time.Since(started).Seconds())
		return err
	}
}

func healthcheck(port string) int {
	client := http.Client{Timeout: 3 * time.Second}
	response, err := client.Get("http://" + net.JoinHostPort("127.0.0.1", port) + "/healthz")
	if err != nil {
		slog.Error("not healthy", "error", err)
		return 1
	}
	response.Body.Close()
	if response.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}

func envOr(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}
