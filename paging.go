package shop

import (
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/oklog/ulid/v2"
)

// Paging limits shared by every list operation.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// PageRequest asks for one page of a list: at most Limit items after the
// position that Cursor (from a previous page's NextCursor) names.
type PageRequest struct {
	Limit  int    `json:"limit,omitempty"`
	Cursor string `json:"cursor,omitempty"`
}

// Normalize applies the default limit and validates the request. It returns
// the decoded cursor key ("" for the first page).
func (p *PageRequest) Normalize() (after string, err error) {
	if p.Limit == 0 {
		p.Limit = DefaultLimit
	}
	if p.Limit < 1 || p.Limit > MaxLimit {
		return "", E(ErrInvalid, "invalid_limit", "limit must be between 1 and %d", MaxLimit)
	}
	return DecodeCursor(p.Cursor)
}

// ParsePageRequest reads limit and cursor from query-string values; a limit
// that is not a number is ErrInvalid naming it.
func ParsePageRequest(limit, cursor string) (PageRequest, error) {
	p := PageRequest{Cursor: cursor}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil {
			return p, E(ErrInvalid, "invalid_limit", "limit must be a whole number between 1 and %d", MaxLimit)
		}
		p.Limit = n
	}
	return p, nil
}

// Page is one page of a list. NextCursor is empty on the last page.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// cursorPrefix versions the cursor format so it can change without
// misreading old cursors.
const cursorPrefix = "k1:"

// EncodeCursor turns a store's keyset position into an opaque cursor.
func EncodeCursor(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + key))
}

// DecodeCursor reverses EncodeCursor; anything else is ErrInvalid with code
// "invalid_cursor". The empty cursor decodes to the empty key (first page).
func DecodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(b), cursorPrefix) || len(b) == len(cursorPrefix) {
		return "", E(ErrInvalid, "invalid_cursor", "cursor is malformed; pass next_cursor from a previous page unchanged")
	}
	return string(b[len(cursorPrefix):]), nil
}

// NewID returns a new unique identifier: a ULID, which sorts by creation
// time, so stores can page by ID in a stable order.
func NewID() string {
	return strings.ToLower(ulid.MustNew(ulid.Now(), rand.Reader).String())
}
