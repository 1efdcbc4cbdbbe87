package cehttp_test

// The CloudEvents Go SDK is the referee: it reads what the Publisher sends,
// and its own client sends to the Receiver.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/cloudevents/sdk-go/v2/client"
	"github.com/cloudevents/sdk-go/v2/event"
	"github.com/cloudevents/sdk-go/v2/protocol"
	sdkhttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/discovery"
	"github.com/kitshop/shop/transport/cehttp"
)

func TestSDKReadsWhatPublisherSends(t *testing.T) {
	var (
		mu       sync.Mutex
		got      []*event.Event
		encoding []binding.Encoding
		auth     []string
		problems []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != cehttp.Path {
			problems = append(problems, r.Method+" "+r.URL.Path)
		}
		encoding = append(encoding, sdkhttp.NewMessageFromHttpRequest(r).ReadEncoding())
		auth = append(auth, r.Header.Get("Authorization"))
		ev, err := sdkhttp.NewEventFromHTTPRequest(r)
		if err == nil {
			err = ev.Validate()
		}
		if err != nil {
			problems = append(problems, err.Error())
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got = append(got, ev)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	in, err := discovery.NewStaticInstancer(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	tokens := newTokens(t)
	p := newPublisher(t, serviceToken(tokens), []cehttp.Subscription{{Service: "sdk", Instancer: in, Types: []string{shop.EventOrderPaid}}})
	e := orderEvent(t, "ord_1")

	if err := p.Publish(context.Background(), e); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Fatalf("the SDK refused the push: %v", problems)
	}
	if len(got) != 1 {
		t.Fatalf("the SDK got %d events, want 1", len(got))
	}
	if encoding[0] != binding.EncodingStructured {
		t.Errorf("the SDK read the push in %v mode, want structured", encoding[0])
	}
	if id, err := tokens.Verify(context.Background(), auth[0][len("Bearer "):]); err != nil || id.Role != shop.RoleService {
		t.Errorf("push carried Authorization %q (%+v, %v), want a service token", auth[0], id, err)
	}
	ev := got[0]
	sameEvent(t, shop.Event{SpecVersion: ev.SpecVersion(), ID: ev.ID(), Source: ev.Source(), Type: ev.Type(), Subject: ev.Subject(),
		Time: ev.Time(), DataType: ev.DataContentType(), Data: ev.Data()}, e)
}

func TestSDKClientSendsToReceiver(t *testing.T) {
	tokens := newTokens(t)
	c := newConsumer(t, tokens, shop.EventOrderPaid)
	e := orderEvent(t, "ord_1")
	ev := event.New()
	ev.SetID(e.ID)
	ev.SetSource(e.Source)
	ev.SetType(e.Type)
	ev.SetSubject(e.Subject)
	ev.SetTime(e.Time)
	ev.SetExtension("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	e.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" // the distributed tracing extension is read
	if err := ev.SetData(e.DataType, []byte(e.Data)); err != nil {
		t.Fatal(err)
	}
	sdk := func(t *testing.T, token string) client.Client {
		opts := []sdkhttp.Option{sdkhttp.WithTarget(c.srv.URL + cehttp.Path)}
		if token != "" {
			opts = append(opts, sdkhttp.WithHeader("Authorization", "Bearer "+token))
		}
		cl, err := client.NewHTTP(opts...)
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	svc := issue(t, tokens, shop.RoleService)

	for _, mode := range []struct {
		name string
		ctx  func(context.Context) context.Context
	}{
		{"structured", binding.WithForceStructured},
		{"binary", binding.WithForceBinary},
	} {
		t.Run(mode.name, func(t *testing.T) {
			before := len(c.got())
			res := sdk(t, svc).Send(mode.ctx(context.Background()), ev)
			if !protocol.IsACK(res) {
				t.Fatalf("the receiver did not take the SDK's event: %v", res)
			}
			var hr *sdkhttp.Result
			if protocol.ResultAs(res, &hr) && hr.StatusCode != http.StatusNoContent {
				t.Errorf("answered %d, want 204", hr.StatusCode)
			}
			got := c.got()
			if len(got) != before+1 {
				t.Fatalf("handler ran %d times, want 1", len(got)-before)
			}
			sameEvent(t, got[len(got)-1].event, e)

			res = sdk(t, "").Send(mode.ctx(context.Background()), ev)
			if !protocol.ResultAs(res, &hr) || hr.StatusCode != http.StatusUnauthorized {
				t.Errorf("the SDK without a token got %v, want a 401 NACK", res)
			}
			res = sdk(t, issue(t, tokens, shop.RoleCustomer)).Send(mode.ctx(context.Background()), ev)
			if !protocol.ResultAs(res, &hr) || hr.StatusCode != http.StatusForbidden {
				t.Errorf("the SDK with a customer token got %v, want a 403 NACK", res)
			}
			if n := len(c.got()) - before; n != 1 {
				t.Errorf("refused sends ran the handler (%d runs)", n-1)
			}
		})
	}

	// A failing handler is a NACK the SDK can retry on.
	c.failWith(errBoom)
	res := sdk(t, svc).Send(context.Background(), ev)
	var hr *sdkhttp.Result
	if protocol.IsACK(res) || !protocol.ResultAs(res, &hr) || hr.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("the SDK's send to a failing handler got %v, want a 503 NACK", res)
	}
}
