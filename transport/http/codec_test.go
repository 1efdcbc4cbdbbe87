package http_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kitshop/shop"
	shophttp "github.com/kitshop/shop/transport/http"
)

type address struct {
	City string `json:"city"`
	Zip  string `json:"zip"`
}

type createRequest struct {
	Name    string   `json:"name"`
	Qty     int      `json:"qty"`
	Tags    []string `json:"tags"`
	Active  bool     `json:"active"`
	Address *address `json:"address"`
}

func jsonRequest(body, contentType string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/products", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

func TestDecodeJSONAccepts(t *testing.T) {
	tests := []struct {
		name, body, contentType string
		want                    createRequest
	}{
		{"plain", `{"name":"mug","qty":2}`, "application/json", createRequest{Name: "mug", Qty: 2}},
		{"no content type", `{"name":"mug"}`, "", createRequest{Name: "mug"}},
		{"charset parameter", `{"name":"mug"}`, "application/json; charset=utf-8", createRequest{Name: "mug"}},
		{"upper-case media type", `{"name":"mug"}`, "Application/JSON", createRequest{Name: "mug"}},
		{"+json suffix", `{"name":"mug"}`, "application/merge-patch+json", createRequest{Name: "mug"}},
		{"curl -d default type", `{"name":"mug"}`, "application/x-www-form-urlencoded", createRequest{Name: "mug"}},
		{"text/plain", `{"name":"mug"}`, "text/plain; charset=utf-8", createRequest{Name: "mug"}},
		{"surrounding whitespace", "\n  {\"name\":\"mug\"}\n\n", "application/json", createRequest{Name: "mug"}},
		{"nested", `{"name":"mug","address":{"city":"Oslo","zip":"0150"},"tags":["a"],"active":true}`, "application/json",
			createRequest{Name: "mug", Address: &address{City: "Oslo", Zip: "0150"}, Tags: []string{"a"}, Active: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got createRequest
			if err := shophttp.DecodeJSON(jsonRequest(tt.body, tt.contentType), &got, 0); err != nil {
				t.Fatalf("DecodeJSON: %v", err)
			}
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(tt.want)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("decoded %s, want %s", gotJSON, wantJSON)
			}
		})
	}
}

func TestDecodeJSONRejects(t *testing.T) {
	tests := []struct {
		name, body, contentType string
		code                    string
		mention                 []string // each must appear in the message
	}{
		{"unknown field", `{"name":"mug","colour":"red"}`, "application/json", "unknown_field", []string{"colour"}},
		{"unknown nested field", `{"address":{"city":"Oslo","planet":"Earth"}}`, "application/json", "unknown_field", []string{"planet"}},
		{"malformed", `{"name": mug}`, "application/json", "bad_json", []string{"malformed"}},
		{"truncated", `{"name":"mug"`, "application/json", "bad_json", []string{"ends too early"}},
		{"not JSON at all", `name=mug`, "application/json", "bad_json", nil},
		{"empty body", ``, "application/json", "bad_json", []string{"empty"}},
		{"only whitespace", " \n\t ", "application/json", "bad_json", []string{"empty"}},
		{"second value", `{"name":"mug"}{"name":"cup"}`, "application/json", "bad_json", []string{"more than one"}},
		{"trailing number", `{"name":"mug"} 5`, "application/json", "bad_json", nil},
		{"trailing bracket", `{"name":"mug"}]`, "application/json", "bad_json", nil},
		{"trailing brace", `{"name":"mug"}}`, "application/json", "bad_json", nil},
		{"trailing garbage", `{"name":"mug"} garbage`, "application/json", "bad_json", nil},
		{"number for string", `{"name":5}`, "application/json", "bad_json", []string{`"name"`, "a string", "number"}},
		{"string for number", `{"qty":"two"}`, "application/json", "bad_json", []string{`"qty"`, "a number", "string"}},
		{"fraction for int", `{"qty":1.5}`, "application/json", "bad_json", []string{`"qty"`}},
		{"object for array", `{"tags":{}}`, "application/json", "bad_json", []string{`"tags"`, "an array"}},
		{"string for bool", `{"active":"yes"}`, "application/json", "bad_json", []string{`"active"`, "true or false"}},
		{"wrong nested type", `{"address":{"zip":150}}`, "application/json", "bad_json", []string{"zip", "a string"}},
		{"array body", `[1,2]`, "application/json", "bad_json", []string{"JSON object", "array"}},
		{"string body", `"mug"`, "application/json", "bad_json", []string{"JSON object", "string"}},
		{"multipart content type", `{"name":"mug"}`, "multipart/form-data; boundary=x", "unsupported_media_type", []string{"application/json"}},
		{"xml content type", `<name>mug</name>`, "application/xml", "unsupported_media_type", nil},
		{"form body", `name=mug`, "application/x-www-form-urlencoded", "bad_json", nil},
		{"malformed content type", `{"name":"mug"}`, "application/json; ===", "unsupported_media_type", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v createRequest
			err := shophttp.DecodeJSON(jsonRequest(tt.body, tt.contentType), &v, 0)
			if !errors.Is(err, shop.ErrInvalid) {
				t.Fatalf("DecodeJSON(%q) = %v, want ErrInvalid", tt.body, err)
			}
			if got := shophttp.StatusOf(err); got != http.StatusBadRequest {
				t.Errorf("StatusOf = %d, want 400", got)
			}
			if got := shop.CodeOf(err); got != tt.code {
				t.Errorf("code = %q, want %q (message %q)", got, tt.code, err)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("message %q does not mention %q", err, m)
				}
			}
		})
	}
}

func TestDecodeJSONBodyLimit(t *testing.T) {
	body := `{"name":"` + strings.Repeat("x", 20) + `"}` // 31 bytes
	tests := []struct {
		name    string
		body    string
		limit   int64
		tooBig  bool
		wantErr bool
	}{
		{"under the limit", body, 100, false, false},
		{"exactly the limit", body, int64(len(body)), false, false},
		{"one byte over", body, int64(len(body)) - 1, true, true},
		{"far over", body, 4, true, true},
		{"default limit, small body", body, 0, false, false},
		{"default limit, huge body", `{"name":"` + strings.Repeat("x", shophttp.MaxBodyBytes) + `"}`, 0, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v createRequest
			err := shophttp.DecodeJSON(jsonRequest(tt.body, "application/json"), &v, tt.limit)
			if (err != nil) != tt.wantErr {
				t.Fatalf("DecodeJSON = %v, want error %v", err, tt.wantErr)
			}
			if got := errors.Is(err, shophttp.ErrBodyTooLarge); got != tt.tooBig {
				t.Fatalf("errors.Is(%v, ErrBodyTooLarge) = %v, want %v", err, got, tt.tooBig)
			}
			if tt.tooBig {
				if got := shophttp.StatusOf(err); got != http.StatusRequestEntityTooLarge {
					t.Errorf("StatusOf = %d, want 413", got)
				}
				if shop.KindOf(err) != nil {
					t.Errorf("an oversized body has kind %v, want none (413 is its own status)", shop.KindOf(err))
				}
			}
		})
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestDecodeJSONUnreadableBody(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", errReader{})
	var v createRequest
	err := shophttp.DecodeJSON(r, &v, 0)
	if !errors.Is(err, shop.ErrInvalid) || shop.CodeOf(err) != "bad_body" {
		t.Fatalf("DecodeJSON = %v (code %q), want ErrInvalid bad_body", err, shop.CodeOf(err))
	}
	if strings.Contains(err.Error(), "connection reset") {
		t.Errorf("message %q leaks the read error", err)
	}
}

type plainResponse struct {
	ID string `json:"id"`
}

type createdResponse struct {
	ID string `json:"id"`
}

func (createdResponse) StatusCode() int { return http.StatusCreated }

type deletedResponse struct{}

func (deletedResponse) NoContent() bool { return true }

type maybeEmptyResponse struct {
	Items []string `json:"items"`
}

func (m maybeEmptyResponse) NoContent() bool { return len(m.Items) == 0 }

type failingResponse struct {
	ID  string `json:"id,omitempty"`
	Err error  `json:"-"`
}

func (f failingResponse) Failed() error { return f.Err }

func TestEncodeJSON(t *testing.T) {
	tests := []struct {
		name       string
		response   any
		wantStatus int
		wantBody   string // "" means an empty body
		wantJSON   bool
	}{
		{"plain", plainResponse{ID: "p1"}, http.StatusOK, `{"id":"p1"}`, true},
		{"created", createdResponse{ID: "p2"}, http.StatusCreated, `{"id":"p2"}`, true},
		{"no content", deletedResponse{}, http.StatusNoContent, "", false},
		{"no content declined", maybeEmptyResponse{Items: []string{"a"}}, http.StatusOK, `{"items":["a"]}`, true},
		{"no content accepted", maybeEmptyResponse{}, http.StatusNoContent, "", false},
		{"failer without error", failingResponse{ID: "p3"}, http.StatusOK, `{"id":"p3"}`, true},
		{"failer with error", failingResponse{Err: shop.E(shop.ErrNotFound, "product_not_found", "no product p4")}, http.StatusNotFound,
			`{"error":{"kind":"not_found","code":"product_not_found","message":"no product p4"}}`, true},
		{"failer with unexpected error", failingResponse{Err: errors.New("db locked")}, http.StatusInternalServerError,
			`{"error":{"kind":"internal","code":"internal","message":"internal error"}}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if err := shophttp.EncodeJSON(context.Background(), rec, tt.response); err != nil {
				t.Fatalf("EncodeJSON: %v", err)
			}
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if got := strings.TrimSuffix(rec.Body.String(), "\n"); got != tt.wantBody {
				t.Errorf("body = %q, want %q", got, tt.wantBody)
			}
			ct := rec.Header().Get("Content-Type")
			if tt.wantJSON && !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if !tt.wantJSON && ct != "" {
				t.Errorf("Content-Type = %q on an empty response", ct)
			}
		})
	}
}

func TestEncodeJSONUnencodable(t *testing.T) {
	rec := httptest.NewRecorder()
	err := shophttp.EncodeJSON(context.Background(), rec, map[string]any{"c": make(chan int)})
	if err == nil {
		t.Fatal("EncodeJSON of a channel succeeded")
	}
	// Nothing was written, so the caller's error encoder can still answer.
	if rec.Body.Len() != 0 || len(rec.Header()) != 0 {
		t.Errorf("EncodeJSON wrote %q with headers %v before failing", rec.Body.String(), rec.Header())
	}
}

func TestEncodeJSONRequest(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	if err := shophttp.EncodeJSONRequest(context.Background(), r, createRequest{Name: "mug", Qty: 3}); err != nil {
		t.Fatal(err)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	// The body it writes is one the server's DecodeJSON accepts.
	var got createRequest
	if err := shophttp.DecodeJSON(r, &got, 0); err != nil {
		t.Fatalf("DecodeJSON of an encoded request: %v", err)
	}
	if got.Name != "mug" || got.Qty != 3 {
		t.Errorf("round trip = %+v", got)
	}
	body, err := r.GetBody()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := io.ReadAll(body)
	if int64(len(again)) != r.ContentLength {
		t.Errorf("GetBody gave %d bytes, ContentLength is %d", len(again), r.ContentLength)
	}
}

func TestDecodeJSONResponse(t *testing.T) {
	dec := shophttp.DecodeJSONResponse[plainResponse]()
	tests := []struct {
		name    string
		status  int
		body    string
		want    plainResponse
		wantErr string // code of the expected error; "" for none
	}{
		{"ok", http.StatusOK, `{"id":"p1"}`, plainResponse{ID: "p1"}, ""},
		{"created", http.StatusCreated, `{"id":"p2"}`, plainResponse{ID: "p2"}, ""},
		{"no content", http.StatusNoContent, ``, plainResponse{}, ""},
		{"error", http.StatusConflict, `{"error":{"code":"sku_taken","message":"taken"}}`, plainResponse{}, "sku_taken"},
		{"bad body", http.StatusOK, `{"id":`, plainResponse{}, "internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tt.status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(tt.body))}
			got, err := dec(context.Background(), resp)
			if tt.wantErr != "" {
				if err == nil || shop.CodeOf(err) != tt.wantErr {
					t.Fatalf("decode = %v, %v; want error with code %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if got.(plainResponse) != tt.want {
				t.Errorf("decode = %+v, want %+v", got, tt.want)
			}
		})
	}
}
