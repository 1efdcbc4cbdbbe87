package cehttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/kitshop/shop"
	"github.com/kitshop/shop/transport/cehttp"
)

const structured = cehttp.ContentType + "; charset=utf-8"

// structuredBody returns e as a structured-mode body.
func structuredBody(t *testing.T, e shop.Event) string {
	t.Helper()
	raw, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestReceiverTakesStructuredEvent(t *testing.T) {
	tokens := newTokens(t)
	c := newConsumer(t, tokens, shop.EventOrderPaid)
	e := orderEvent(t, "ord_1")
	e.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" // CloudEvents' tracing extension
	e.TraceState = "kitshop=1"

	r := post(t, c.srv.URL, http.MethodPost, cehttp.Path, structuredBody(t, e),
		"Content-Type", structured, "Authorization", "Bearer "+issue(t, tokens, shop.RoleService), "X-Request-ID", "req-42")
	if r.status != http.StatusNoContent {
		t.Fatalf("push answered %d %s, want 204", r.status, r.code)
	}
	got := c.got()
	if len(got) != 1 {
		t.Fatalf("handler ran %d times, want 1", len(got))
	}
	sameEvent(t, got[0].event, e)
	if got[0].identity != (shop.Identity{UserID: "service-1", Role: shop.RoleService}) {
		t.Errorf("handler ran as %+v, want the caller's service identity", got[0].identity)
	}
	if got[0].requestID != "req-42" {
		t.Errorf("handler's request ID is %q, want the caller's req-42", got[0].requestID)
	}
}

func TestReceiverTakesBinaryEvent(t *testing.T) {
	tokens := newTokens(t)
	c := newConsumer(t, tokens, shop.EventOrderPaid)
	e := orderEvent(t, "ord 1/ü") // percent-encoded in its header, as the HTTP binding asks

	r := post(t, c.srv.URL, http.MethodPost, cehttp.Path, string(e.Data),
		"Authorization", "Bearer "+issue(t, tokens, shop.RoleAdmin),
		"Content-Type", "application/json",
		"ce-specversion", "1.0", "ce-id", e.ID, "ce-source", e.Source, "ce-type", e.Type,
		"ce-subject", "ord%201/%C3%BC", "ce-time", e.Time.Format(time.RFC3339Nano),
		"ce-traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "ce-unknownext", "ignored")
	if r.status != http.StatusNoContent {
		t.Fatalf("push answered %d %s, want 204", r.status, r.code)
	}
	got := c.got()
	if len(got) != 1 {
		t.Fatalf("handler ran %d times, want 1", len(got))
	}
	e.DataType = "application/json"
	e.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	sameEvent(t, got[0].event, e)
	if got[0].identity.Role != shop.RoleAdmin {
		t.Errorf("handler ran as %+v, want the admin", got[0].identity)
	}
}

func TestReceiverEventWithoutHandlerIsAcknowledged(t *testing.T) {
	tokens := newTokens(t)
	c := newConsumer(t, tokens, shop.EventOrderPaid)
	e := orderEvent(t, "ord_1")
	e.Type = shop.EventProductCreated

	r := post(t, c.srv.URL, http.MethodPost, cehttp.Path, structuredBody(t, e),
		"Content-Type", structured, "Authorization", "Bearer "+issue(t, tokens, shop.RoleService))
	if r.status != http.StatusNoContent {
		t.Fatalf("push of an event nobody handles answered %d %s, want 204", r.status, r.code)
	}
	if n := len(c.got()); n != 0 {
		t.Errorf("the order.paid handler ran %d times for a product.created event", n)
	}
}

func TestReceiverRefuses(t *testing.T) {
	tokens := newTokens(t)
	c := newConsumer(t, tokens, shop.EventOrderPaid)
	svc := "Bearer " + issue(t, tokens, shop.RoleService)
	e := orderEvent(t, "ord_1")
	good := structuredBody(t, e)
	with := func(change func(m map[string]any)) string {
		var m map[string]any
		json.Unmarshal([]byte(good), &m)
		change(m)
		raw, _ := json.Marshal(m)
		return string(raw)
	}
	binary := []string{"Authorization", svc, "ce-specversion", "1.0", "ce-id", "e1", "ce-source", "kitshop/order", "ce-type", shop.EventOrderPaid}

	for _, tc := range []struct {
		name         string
		method, path string
		body         string
		headers      []string
		status       int
		code         string
	}{
		{"no token", "POST", cehttp.Path, good, []string{"Content-Type", structured}, 401, "missing_token"},
		{"bad token", "POST", cehttp.Path, good, []string{"Content-Type", structured, "Authorization", "Bearer not-a-token"}, 401, "invalid_token"},
		{"not bearer", "POST", cehttp.Path, good, []string{"Content-Type", structured, "Authorization", "Basic dTpw"}, 401, "invalid_token"},
		{"customer", "POST", cehttp.Path, good, []string{"Content-Type", structured, "Authorization", "Bearer " + issue(t, tokens, shop.RoleCustomer)}, 403, "forbidden"},
		{"plain JSON", "POST", cehttp.Path, good, []string{"Content-Type", "application/json", "Authorization", svc}, 415, cehttp.CodeUnsupportedMediaType},
		{"no content type", "POST", cehttp.Path, good, []string{"Authorization", svc}, 415, cehttp.CodeUnsupportedMediaType},
		{"batch", "POST", cehttp.Path, "[" + good + "]", []string{"Content-Type", "application/cloudevents-batch+json", "Authorization", svc}, 415, cehttp.CodeUnsupportedMediaType},
		{"malformed JSON", "POST", cehttp.Path, `{"specversion":"1.0",`, []string{"Content-Type", structured, "Authorization", svc}, 400, cehttp.CodeBadJSON},
		{"not an object", "POST", cehttp.Path, `["1.0"]`, []string{"Content-Type", structured, "Authorization", svc}, 400, cehttp.CodeBadJSON},
		{"trailing data", "POST", cehttp.Path, good + `{}`, []string{"Content-Type", structured, "Authorization", svc}, 400, cehttp.CodeBadJSON},
		{"empty body", "POST", cehttp.Path, ``, []string{"Content-Type", structured, "Authorization", svc}, 400, cehttp.CodeBadJSON},
		{"no id", "POST", cehttp.Path, with(func(m map[string]any) { delete(m, "id") }), []string{"Content-Type", structured, "Authorization", svc}, 400, cehttp.CodeInvalidEvent},
		{"no source", "POST", cehttp.Path, with(func(m map[string]any) { m["source"] = "" }), []string{"Content-Type", structured, "Authorization", svc}, 400, cehttp.CodeInvalidEvent},
		{"no type", "POST", cehttp.Path, with(func(m map[string]any) { delete(m, "type") }), []string{"Content-Type", structured, "Authorization", svc}, 400, cehttp.CodeInvalidEvent},
		{"old specversion", "POST", cehttp.Path, with(func(m map[string]any) { m["specversion"] = "0.3" }), []string{"Content-Type", structured, "Authorization", svc}, 400, cehttp.CodeInvalidEvent},
		{"no specversion", "POST", cehttp.Path, with(func(m map[string]any) { delete(m, "specversion") }), []string{"Content-Type", structured, "Authorization", svc}, 400, cehttp.CodeInvalidEvent},
		{"id not a string", "POST", cehttp.Path, with(func(m map[string]any) { m["id"] = 7 }), []string{"Content-Type", structured, "Authorization", svc}, 400, cehttp.CodeInvalidEvent},
		{"time not RFC 3339", "POST", cehttp.Path, with(func(m map[string]any) { m["time"] = "yesterday" }), []string{"Content-Type", structured, "Authorization", svc}, 400, cehttp.CodeInvalidEvent},
		{"empty time", "POST", cehttp.Path, with(func(m map[string]any) { m["time"] = "" }), []string{"Content-Type", structured, "Authorization", svc}, 400, cehttp.CodeInvalidEvent},
		{"data and data_base64", "POST", cehttp.Path, with(func(m map[string]any) { m["data_base64"] = "e30=" }), []string{"Content-Type", structured, "Authorization", svc}, 400, cehttp.CodeInvalidEvent},
		{"base64 data not JSON", "POST", cehttp.Path, with(func(m map[string]any) {
			delete(m, "data")
			m["datacontenttype"] = "image/png"
			m["data_base64"] = "iVBORw0K"
		}), []string{"Content-Type", structured, "Authorization", svc}, 415, cehttp.CodeUnsupportedData},
		{"binary data not JSON", "POST", cehttp.Path, "hello", append([]string{"Content-Type", "text/plain"}, binary...), 415, cehttp.CodeUnsupportedData},
		{"binary data bad JSON", "POST", cehttp.Path, `{"order_id":`, append([]string{"Content-Type", "application/json"}, binary...), 400, cehttp.CodeBadJSON},
		{"binary without id", "POST", cehttp.Path, `{}`, []string{"Content-Type", "application/json", "Authorization", svc, "ce-specversion", "1.0", "ce-source", "kitshop/order", "ce-type", shop.EventOrderPaid}, 400, cehttp.CodeInvalidEvent},
		{"binary bad time", "POST", cehttp.Path, `{}`, append([]string{"Content-Type", "application/json", "ce-time", "2024-13-01"}, binary...), 400, cehttp.CodeInvalidEvent},
		{"oversize", "POST", cehttp.Path, with(func(m map[string]any) { m["data"] = strings.Repeat("x", cehttp.DefaultMaxBodyBytes) }), []string{"Content-Type", structured, "Authorization", svc}, 413, "body_too_large"},
		{"GET", "GET", cehttp.Path, "", []string{"Authorization", svc}, 405, "method_not_allowed"},
		{"other path", "POST", cehttp.Path + "/x", good, []string{"Content-Type", structured, "Authorization", svc}, 404, "route_not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(t, c.srv.URL, tc.method, tc.path, tc.body, tc.headers...)
			if r.status != tc.status || r.code != tc.code {
				t.Errorf("answered %d %s, want %d %s", r.status, r.code, tc.status, tc.code)
			}
			if tc.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if tc.status == 405 && r.header.Get("Allow") != http.MethodPost {
				t.Errorf("405 with Allow %q, want POST", r.header.Get("Allow"))
			}
			if tc.status == 415 && r.kind != "invalid" {
				t.Errorf("415 of kind %q, want invalid", r.kind)
			}
		})
	}
	if n := len(c.got()); n != 0 {
		t.Errorf("the handler ran %d times for refused pushes", n)
	}
}

// The body limit is the receiver's own; a chunked body past it is refused
// as well as one whose Content-Length says so.
func TestReceiverBodyLimit(t *testing.T) {
	tokens := newTokens(t)
	c := newConsumer(t, tokens, shop.EventOrderPaid)
	recv := cehttp.NewReceiver(tokens, log.NewNopLogger(), cehttp.WithMaxBodyBytes(512))
	recv.Subscribe(shop.EventOrderPaid, c.handle)
	e := orderEvent(t, "ord_1")
	small := structuredBody(t, e)
	e.Data = json.RawMessage(fmt.Sprintf(`{"note":%q}`, strings.Repeat("x", 512)))
	big := structuredBody(t, e)
	svc := "Bearer " + issue(t, tokens, shop.RoleService)

	for _, tc := range []struct {
		name    string
		body    string
		chunked bool
		status  int
	}{
		{"small", small, false, 204},
		{"big", big, false, 413},
		{"big chunked", big, true, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, cehttp.Path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", cehttp.ContentType)
			req.Header.Set("Authorization", svc)
			if tc.chunked {
				req.ContentLength = -1
			}
			w := httptest.NewRecorder()
			recv.ServeHTTP(w, req)
			if w.Code != tc.status {
				t.Errorf("answered %d %s, want %d", w.Code, w.Body.String(), tc.status)
			}
		})
	}
}

func TestReceiverHandlerFailureAsksForRedelivery(t *testing.T) {
	tokens := newTokens(t)
	c := newConsumer(t, tokens, shop.EventOrderPaid)
	e := orderEvent(t, "ord_1")
	push := func() response {
		return post(t, c.srv.URL, http.MethodPost, cehttp.Path, structuredBody(t, e),
			"Content-Type", structured, "Authorization", "Bearer "+issue(t, tokens, shop.RoleService))
	}

	c.failWith(errBoom)
	if r := push(); r.status != http.StatusServiceUnavailable || r.code != cehttp.CodeEventNotHandled {
		t.Fatalf("push with a failing handler answered %d %s, want 503 %s", r.status, r.code, cehttp.CodeEventNotHandled)
	}
	logs := c.logs.String()
	if !strings.Contains(logs, "level=warn") || !strings.Contains(logs, e.ID) || !strings.Contains(logs, errBoom.Error()) {
		t.Errorf("the failure is not logged at warn with the event and the cause:\n%s", logs)
	}

	c.failWith(nil)
	if r := push(); r.status != http.StatusNoContent {
		t.Fatalf("push after the handler recovered answered %d %s, want 204", r.status, r.code)
	}
	if delivered, handled := c.deliveriesOf(e.ID); delivered != 2 || handled != 1 {
		t.Errorf("event delivered %d times and handled %d, want 2 and 1", delivered, handled)
	}
}

func TestReceiverHandlerPanicIsA500(t *testing.T) {
	tokens := newTokens(t)
	c := newConsumer(t, tokens, shop.EventOrderPaid)
	c.recv.Subscribe(shop.EventOrderCancelled, func(context.Context, shop.Event) error { panic("nil map") })
	e := orderEvent(t, "ord_1")
	e.Type = shop.EventOrderCancelled
	svc := "Bearer " + issue(t, tokens, shop.RoleService)

	r := post(t, c.srv.URL, http.MethodPost, cehttp.Path, structuredBody(t, e), "Content-Type", structured, "Authorization", svc)
	if r.status != http.StatusInternalServerError || r.code != "internal" {
		t.Fatalf("push to a panicking handler answered %d %s, want 500 internal", r.status, r.code)
	}
	if logs := c.logs.String(); !strings.Contains(logs, "level=error") || !strings.Contains(logs, "nil map") || !strings.Contains(logs, "stack=") {
		t.Errorf("the panic is not logged at error with its value and stack:\n%s", logs)
	}
	// The process lives on.
	r = post(t, c.srv.URL, http.MethodPost, cehttp.Path, structuredBody(t, orderEvent(t, "ord_2")), "Content-Type", structured, "Authorization", svc)
	if r.status != http.StatusNoContent {
		t.Fatalf("push after a panic answered %d %s, want 204", r.status, r.code)
	}
}

func TestReceiverDeadLetterIsAcknowledgedAndLogged(t *testing.T) {
	tokens := newTokens(t)
	c := newConsumer(t, tokens, shop.EventOrderPaid)
	c.failWith(fmt.Errorf("inventory: parked after 5 attempts: %w", shop.ErrDeadLetter))
	e := orderEvent(t, "ord_1")

	r := post(t, c.srv.URL, http.MethodPost, cehttp.Path, structuredBody(t, e),
		"Content-Type", structured, "Authorization", "Bearer "+issue(t, tokens, shop.RoleService))
	if r.status != http.StatusNoContent {
		t.Fatalf("push given up by its handler answered %d %s, want 204 (asking again cannot help)", r.status, r.code)
	}
	logs := c.logs.String()
	if !strings.Contains(logs, "level=error") || !strings.Contains(logs, "dead letter") || !strings.Contains(logs, `order_id`) {
		t.Errorf("the given-up event is not logged in full at error level:\n%s", logs)
	}
}

func TestReceiverSubscribe(t *testing.T) {
	recv := cehttp.NewReceiver(newTokens(t), log.NewNopLogger())
	if err := recv.Subscribe("", func(context.Context, shop.Event) error { return nil }); err == nil {
		t.Error("Subscribe with no type succeeded")
	}
	if err := recv.Subscribe(shop.EventOrderPaid, nil); err == nil {
		t.Error("Subscribe with no handler succeeded")
	}
}

func TestReceiverHandlersRunInTurn(t *testing.T) {
	tokens := newTokens(t)
	c := newConsumer(t, tokens, shop.EventOrderPaid)
	var second []string
	c.recv.Subscribe(shop.EventOrderPaid, func(_ context.Context, e shop.Event) error {
		second = append(second, e.ID)
		return nil
	})
	c.failWith(errBoom)
	e := orderEvent(t, "ord_1")
	r := post(t, c.srv.URL, http.MethodPost, cehttp.Path, structuredBody(t, e),
		"Content-Type", structured, "Authorization", "Bearer "+issue(t, tokens, shop.RoleService))
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("one handler of two failing answered %d, want 503", r.status)
	}
	if len(second) != 1 {
		t.Errorf("the second handler ran %d times, want 1: one failing handler must not starve the others", len(second))
	}
}

func TestNewReceiverPanicsOnUnusableValues(t *testing.T) {
	for name, f := range map[string]func(){
		"nil verifier":    func() { cehttp.NewReceiver(nil, log.NewNopLogger()) },
		"nil logger":      func() { cehttp.NewReceiver(newTokens(t), nil) },
		"zero body limit": func() { cehttp.WithMaxBodyBytes(0) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("did not panic")
				}
			}()
			f()
		})
	}
}

// Mounted as the whole server, the receiver still serves Path only.
func TestReceiverServesPathOnly(t *testing.T) {
	tokens := newTokens(t)
	recv := cehttp.NewReceiver(tokens, log.NewNopLogger())
	req := httptest.NewRequest(http.MethodPost, "/internal/other", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+issue(t, tokens, shop.RoleService))
	w := httptest.NewRecorder()
	recv.ServeHTTP(w, req)
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "route_not_found") {
		t.Errorf("POST /internal/other answered %d %s, want 404 route_not_found", w.Code, w.Body.String())
	}
}
