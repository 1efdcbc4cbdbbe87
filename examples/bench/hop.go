package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kitshop/shop/discovery"
	"github.com/kitshop/shop/transport/gateway"
)

// proxies starts, in this process, the two doors the gateway hop is
// measured between, both in front of upstream (the shop, as the catalog
// service): a plain httputil.ReverseProxy with MaxIdleConnsPerHost raised
// (the reference), and the gateway of transport/gateway with its access log
// written (to nowhere), its breakers and metrics, and no rate limit. It
// returns their addresses and a function that stops both.
func proxies(upstream string) (proxyAddr, gatewayAddr string, stop func(), err error) {
	target, err := url.Parse("http://" + upstream)
	if err != nil {
		return "", "", nil, err
	}
	tuned := http.DefaultTransport.(*http.Transport).Clone()
	tuned.MaxIdleConnsPerHost = 256
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = tuned

	catalog, err := discovery.NewStaticInstancer(upstream)
	if err != nil {
		return "", "", nil, err
	}
	g, err := gateway.New(gateway.Config{
		Upstreams: map[string]sd.Instancer{"catalog": catalog},
		Routes:    []gateway.Route{{Method: "GET", Pattern: "/products/{id}", Service: "catalog", Class: gateway.ClassRead}},
		Limits:    map[string]gateway.ClassLimits{},
		Logger:    log.NewLogfmtLogger(io.Discard),
		Registry:  prometheus.NewRegistry(),
	})
	if err != nil {
		return "", "", nil, err
	}
	var servers []*http.Server
	serve := func(h http.Handler) (string, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
		servers = append(servers, srv)
		go srv.Serve(ln)
		return ln.Addr().String(), nil
	}
	stop = func() {
		for _, s := range servers {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			s.Shutdown(ctx)
			cancel()
		}
		g.Close()
	}
	if proxyAddr, err = serve(rp); err == nil {
		gatewayAddr, err = serve(g)
	}
	if err != nil {
		stop()
		return "", "", nil, err
	}
	return proxyAddr, gatewayAddr, stop, nil
}
