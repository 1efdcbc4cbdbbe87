package cehttp

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kitshop/shop"
)

// Path is the internal route a Receiver serves and a Publisher posts to,
// below each instance's base URL. Mount a Receiver there, for POST only,
// and never expose it through the public gateway:
//
//	mux.Handle("POST "+cehttp.Path, receiver)
const Path = "/internal/events"

// ContentType is the media type of a structured-mode CloudEvent in JSON,
// the Content-Type of every push a Publisher sends.
const ContentType = "application/cloudevents+json"

// SpecVersion is the CloudEvents version the package speaks.
const SpecVersion = "1.0"

// The error codes a Receiver answers with, besides the shop's usual ones
// (missing_token, invalid_token, token_expired, forbidden,
// body_too_large, method_not_allowed, route_not_found).
const (
	// CodeUnsupportedMediaType (415): the request is neither a
	// structured-mode CloudEvent in JSON nor a binary-mode one.
	CodeUnsupportedMediaType = "unsupported_media_type"
	// CodeUnsupportedData (415): the event's data is not JSON (a binary-mode
	// body of another media type, or data_base64 holding something else);
	// shop.Event carries JSON data only.
	CodeUnsupportedData = "unsupported_data"
	// CodeBadJSON (400): the body is not a JSON object, or binary-mode data
	// said to be JSON is not.
	CodeBadJSON = "bad_json"
	// CodeInvalidEvent (400): a required attribute (specversion "1.0", id,
	// source, type) is missing or wrong, or time is not an RFC 3339
	// timestamp.
	CodeInvalidEvent = "invalid_event"
	// CodeEventNotHandled (503): a handler of the event failed; the sender
	// should push it again later.
	CodeEventNotHandled = "event_not_handled"
)

// wireEvent is shop.Event as the structured-mode JSON holds it: time left
// out when unknown, and data_base64 read for senders that use it.
type wireEvent struct {
	SpecVersion string          `json:"specversion"`
	ID          string          `json:"id"`
	Source      string          `json:"source"`
	Type        string          `json:"type"`
	Subject     string          `json:"subject,omitempty"`
	Time        *string         `json:"time,omitempty"`
	DataType    string          `json:"datacontenttype,omitempty"`
	Data        json.RawMessage `json:"data,omitempty"`
	DataBase64  *string         `json:"data_base64,omitempty"`
	TraceParent string          `json:"traceparent,omitempty"`
	TraceState  string          `json:"tracestate,omitempty"`
}

// marshalStructured returns e as a structured-mode body, or an ErrInvalid
// error when e is not a valid CloudEvent (see validate) or its data is not
// JSON.
func marshalStructured(e shop.Event) ([]byte, error) {
	if err := validate(e); err != nil {
		return nil, err
	}
	w := wireEvent{SpecVersion: e.SpecVersion, ID: e.ID, Source: e.Source, Type: e.Type, Subject: e.Subject,
		DataType: e.DataType, Data: e.Data, TraceParent: e.TraceParent, TraceState: e.TraceState}
	if !e.Time.IsZero() {
		t := e.Time.Format(time.RFC3339Nano)
		w.Time = &t
	}
	if len(bytes.TrimSpace(w.Data)) == 0 {
		w.Data = nil
	}
	body, err := json.Marshal(w)
	if err != nil {
		return nil, shop.E(shop.ErrInvalid, CodeInvalidEvent, "event %s (%s): data is not JSON: %v", e.ID, e.Type, err)
	}
	return body, nil
}

// unmarshalStructured reads a structured-mode body. Attributes it does not
// know (extensions other than traceparent and tracestate) are ignored.
func unmarshalStructured(body []byte) (shop.Event, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var w wireEvent
	if err := dec.Decode(&w); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field != "" {
			return shop.Event{}, shop.E(shop.ErrInvalid, CodeInvalidEvent, "attribute %q must be a string", typ.Field)
		}
		return shop.Event{}, shop.E(shop.ErrInvalid, CodeBadJSON, "the body is not a JSON object: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return shop.Event{}, shop.E(shop.ErrInvalid, CodeBadJSON, "the body holds data after the event")
	}
	e := shop.Event{SpecVersion: w.SpecVersion, ID: w.ID, Source: w.Source, Type: w.Type, Subject: w.Subject, DataType: w.DataType,
		TraceParent: w.TraceParent, TraceState: w.TraceState}
	switch {
	case w.DataBase64 != nil && len(w.Data) > 0 && !isNull(w.Data):
		return shop.Event{}, shop.E(shop.ErrInvalid, CodeInvalidEvent, "the event has both data and data_base64")
	case w.DataBase64 != nil:
		raw, err := base64.StdEncoding.DecodeString(*w.DataBase64)
		if err != nil {
			return shop.Event{}, shop.E(shop.ErrInvalid, CodeInvalidEvent, "data_base64 is not base64")
		}
		if err := jsonData(e.DataType, raw); err != nil {
			return shop.Event{}, err
		}
		e.Data = raw
	case len(w.Data) > 0 && !isNull(w.Data):
		e.Data = w.Data
	}
	if err := setTime(&e, w.Time); err != nil {
		return shop.Event{}, err
	}
	return e, validate(e)
}

// binary header names of the attributes, as net/http canonicalizes them.
const (
	headerSpecVersion = "Ce-Specversion"
	headerID          = "Ce-Id"
	headerSource      = "Ce-Source"
	headerType        = "Ce-Type"
	headerSubject     = "Ce-Subject"
	headerTime        = "Ce-Time"
	headerTraceParent = "Ce-Traceparent"
	headerTraceState  = "Ce-Tracestate"
)

// unmarshalBinary reads a binary-mode event: the attributes from the ce-*
// headers (percent-decoded, as the HTTP binding asks), datacontenttype
// from Content-Type, and the body as the data, which must be JSON.
func unmarshalBinary(h http.Header, body []byte) (shop.Event, error) {
	attr := func(name string) string { return percentDecode(h.Get(name)) }
	e := shop.Event{SpecVersion: attr(headerSpecVersion), ID: attr(headerID), Source: attr(headerSource),
		Type: attr(headerType), Subject: attr(headerSubject), DataType: h.Get("Content-Type"),
		TraceParent: attr(headerTraceParent), TraceState: attr(headerTraceState)}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := jsonData(e.DataType, body); err != nil {
			return shop.Event{}, err
		}
		e.Data = body
	}
	var t *string
	if _, ok := h[headerTime]; ok {
		s := attr(headerTime)
		t = &s
	}
	if err := setTime(&e, t); err != nil {
		return shop.Event{}, err
	}
	return e, validate(e)
}

// jsonData checks that data of media type dataType (empty: JSON) is JSON.
func jsonData(dataType string, data []byte) error {
	if dataType != "" {
		mt, _, err := mime.ParseMediaType(dataType)
		if err != nil || !jsonMediaType(mt) {
			return &mediaTypeError{shop.E(shop.ErrInvalid, CodeUnsupportedData,
				"the event's data is %q; this receiver takes JSON data only", dataType)}
		}
	}
	if !json.Valid(data) {
		return shop.E(shop.ErrInvalid, CodeBadJSON, "the event's data is not valid JSON")
	}
	return nil
}

// jsonMediaType reports whether mt is a JSON media type.
func jsonMediaType(mt string) bool {
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

// setTime sets e.Time from s, an RFC 3339 timestamp; an absent time (nil)
// leaves it zero, a present one must parse.
func setTime(e *shop.Event, s *string) error {
	if s == nil {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return shop.E(shop.ErrInvalid, CodeInvalidEvent, "time %q is not an RFC 3339 timestamp", *s)
	}
	e.Time = t
	return nil
}

// validate checks the attributes CloudEvents 1.0 requires: specversion
// "1.0", and a non-empty id, source (a URI reference) and type.
func validate(e shop.Event) error {
	var missing []string
	if e.ID == "" {
		missing = append(missing, "id")
	}
	if e.Source == "" {
		missing = append(missing, "source")
	}
	if e.Type == "" {
		missing = append(missing, "type")
	}
	switch {
	case e.SpecVersion != SpecVersion:
		return shop.E(shop.ErrInvalid, CodeInvalidEvent, "specversion is %q, want %q", e.SpecVersion, SpecVersion)
	case len(missing) > 0:
		return shop.E(shop.ErrInvalid, CodeInvalidEvent, "the event has no %s", strings.Join(missing, ", "))
	}
	if _, err := url.Parse(e.Source); err != nil {
		return shop.E(shop.ErrInvalid, CodeInvalidEvent, "source %q is not a URI reference", e.Source)
	}
	return nil
}

// isNull reports whether raw is the JSON null.
func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// percentDecode undoes the percent-encoding of a binary-mode header value.
// A value that is not validly encoded is taken as it is: many senders (the
// Go SDK among them) do not encode at all.
func percentDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	d, err := url.PathUnescape(s)
	if err != nil {
		return s
	}
	return d
}

// mediaTypeError is an ErrInvalid error answered with 415 Unsupported Media
// Type rather than 400.
type mediaTypeError struct{ err *shop.Error }

func (e *mediaTypeError) Error() string { return e.err.Error() }
func (e *mediaTypeError) Unwrap() error { return e.err }

// errBodyRead is the error for a body that could not be read (the
// sender went away, or sent a broken chunk).
var errBodyRead = shop.E(shop.ErrInvalid, "bad_body", "could not read the request body")
