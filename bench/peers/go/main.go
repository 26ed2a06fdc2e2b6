// The same service in Go's standard library, as a benchmark peer: GET / (the
// Flask service's keys, with go_version for python_version), GET /health,
// GET /upstreams (each of UPSTREAM_URIS called at once with net/http, the
// answers nested as devops-info nests them), JSON 404, one log line per
// request; HOST and PORT from the environment.
//
//	CGO_ENABLED=0 GOPROXY=off go build -trimpath -ldflags='-s -w' -o peer .
//
// Debian 12: golang-go 1.19 (bench/run.sh installs it). No module outside
// the standard library.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

var started = time.Now()

type endpoint struct {
	Path        string `json:"path"`
	Method      string `json:"method"`
	Description string `json:"description"`
}

var endpoints = []endpoint{
	{"/", "GET", "Service information"},
	{"/health", "GET", "Health check"},
}

func uname() (sysname, version, machine string) {
	var u syscall.Utsname
	if syscall.Uname(&u) != nil {
		return "Linux", "", runtime.GOARCH
	}
	return cstring(u.Sysname), cstring(u.Version), cstring(u.Machine)
}

// cstring reads a NUL-terminated uname field (int8 on amd64, uint8 on arm64).
func cstring[T int8 | uint8](b [65]T) string {
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		out = append(out, byte(c))
	}
	return string(out)
}

func uptime() (int64, string) {
	s := int64(time.Since(started).Seconds())
	return s, fmt.Sprintf("%d hours, %d minutes", s/3600, (s%3600)/60)
}

func now() string { return time.Now().UTC().Format("2006-01-02T15:04:05.000000+00:00") }

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

func index(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Not Found", "message": "Endpoint does not exist"})
		return
	}
	host, _ := os.Hostname()
	sysname, version, machine := uname()
	seconds, human := uptime()
	client, _, _ := net.SplitHostPort(r.RemoteAddr)
	writeJSON(w, http.StatusOK, map[string]any{
		"service": map[string]string{"name": "devops-info-service", "version": "1.0.0",
			"description": "DevOps course info service", "framework": "Go net/http"},
		"system": map[string]any{"hostname": host, "platform": sysname, "platform_version": version,
			"architecture": machine, "cpu_count": runtime.NumCPU(), "go_version": runtime.Version()},
		"runtime": map[string]any{"uptime_seconds": seconds, "uptime_human": human,
			"current_time": now(), "timezone": "UTC"},
		"request": map[string]string{"client_ip": client, "user_agent": r.UserAgent(),
			"method": r.Method, "path": r.URL.Path},
		"endpoints": endpoints,
	})
}

func health(w http.ResponseWriter, r *http.Request) {
	seconds, _ := uptime()
	writeJSON(w, http.StatusOK, map[string]any{"status": "healthy", "timestamp": now(), "uptime_seconds": seconds})
}

// The upstreams' client: connections kept alive, as many idle per upstream as
// the benchmark's clients (Go's default of 2 would make it reconnect), the
// same 2 s timeout and 1 MiB bound as devops-info's defaults.
var (
	upstreams = splitURIs(os.Getenv("UPSTREAM_URIS"))
	client    = &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second},
	}
)

const maxUpstreamBody = 1 << 20

func splitURIs(s string) []string {
	var out []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

type upstreamEntry struct {
	URL        string          `json:"url"`
	Status     *int            `json:"status"`
	DurationMs float64         `json:"duration_ms"`
	Answer     json.RawMessage `json:"answer,omitempty"`
	Error      string          `json:"error,omitempty"`
}

func call(url string, e *upstreamEntry) {
	start := time.Now()
	defer func() { e.DurationMs = float64(time.Since(start).Microseconds()) / 1000 }()
	e.URL = url
	resp, err := client.Get(url)
	if err != nil {
		e.Error = err.Error()
		return
	}
	defer resp.Body.Close()
	e.Status = &resp.StatusCode
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamBody+1))
	switch {
	case err != nil:
		e.Error = err.Error()
	case len(body) > maxUpstreamBody:
		e.Error = "answer too large"
	case json.Valid(body):
		e.Answer = body
	default:
		quoted, _ := json.Marshal(string(body))
		e.Answer = quoted
	}
}

func upstreamsHandler(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	entries := make([]upstreamEntry, len(upstreams))
	var wg sync.WaitGroup
	for i, u := range upstreams {
		wg.Add(1)
		go func(i int, u string) {
			defer wg.Done()
			call(u, &entries[i])
		}(i, u)
	}
	wg.Wait()
	status := http.StatusOK
	for _, e := range entries {
		if e.Error != "" || e.Status == nil || *e.Status/100 != 2 {
			status = http.StatusBadGateway
		}
	}
	host, _ := os.Hostname()
	writeJSON(w, status, map[string]any{"name": "go-nethttp", "version": "1.0.0", "pod": host,
		"duration_ms": float64(time.Since(start).Microseconds()) / 1000, "upstreams": entries})
}

// logged writes one line per request, as the Flask service does.
func logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		log.Printf("%s %s %s", r.RemoteAddr, r.Method, r.URL.Path)
	})
}

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("/", index)
	mux.HandleFunc("/health", health)
	mux.HandleFunc("/upstreams", upstreamsHandler)
	host, port := os.Getenv("HOST"), os.Getenv("PORT")
	if host == "" {
		host = "0.0.0.0"
	}
	if port == "" {
		port = "5000"
	}
	addr := net.JoinHostPort(host, port)
	log.Printf("listening on %s", addr)
	log.Fatal(http.ListenAndServe(addr, logged(mux)))
}
