package shop

import (
	"encoding/json"
	"fmt"
)

// Reply is a transport-neutral answer for message transports (NATS, AMQP
// request/reply, ...): the JSON of an endpoint's response, or the error
// that prevented it as an ErrorDetail. HTTP has its own shape (the status
// says which); a transport without statuses can send a Reply.
type Reply struct {
	Error *ErrorDetail    `json:"error,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
}

// MarshalReply encodes an endpoint's response. A business error the response
// carries (its Failed method, as go-kit's endpoint.Failer) becomes the
// Reply's Error.
func MarshalReply(response any) ([]byte, error) {
	if f, ok := response.(interface{ Failed() error }); ok && f.Failed() != nil {
		return MarshalErrorReply(f.Failed()), nil
	}
	data, err := json.Marshal(response)
	if err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	return json.Marshal(Reply{Data: data})
}

// MarshalErrorReply encodes err (see DetailOf: an unexpected error tells
// nothing internal).
func MarshalErrorReply(err error) []byte {
	d := DetailOf(err)
	body, _ := json.Marshal(Reply{Error: &d})
	return body
}

// UnmarshalReply decodes a Reply into the response type R. An error reply
// becomes failed(the error), so the business error travels inside the
// response as on the server; only a body that is no Reply is an error.
func UnmarshalReply[R any](body []byte, failed func(error) R) (R, error) {
	var r Reply
	var resp R
	if err := json.Unmarshal(body, &r); err != nil {
		return resp, fmt.Errorf("decode reply: %w", err)
	}
	if r.Error != nil {
		return failed(r.Error.Err()), nil
	}
	if err := json.Unmarshal(r.Data, &resp); err != nil {
		return resp, fmt.Errorf("decode reply: %w", err)
	}
	return resp, nil
}
