package http

import (
	"context"
	"net/http"
	"strconv"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/kitshop/shop"
)

// DeadLettersPath is where DeadLetterHandler is mounted by the bundled
// binaries.
const DeadLettersPath = "/admin/dead-letters"

// DeadLetterHandler serves the operators' view of a consumer's parked
// events, admins only:
//
//	GET  /admin/dead-letters?limit=N          the parked events, oldest first (default 100, at most 1000)
//	POST /admin/dead-letters/{event id}/replay hand one to its consumer again
//
// A replay that fails again answers the failure (the event stays parked);
// an unknown ID answers 404 dead_letter_not_found.
func DeadLetterHandler(dl shop.DeadLetters, v shop.Verifier, logger log.Logger) http.Handler {
	auth := Authenticate(v)
	admin := func(next func(ctx context.Context, w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			ctx := auth(r.Context(), r)
			if _, err := shop.RequireRole(ctx, shop.RoleAdmin); err != nil {
				EncodeError(ctx, err, w)
				return
			}
			next(ctx, w, r)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+DeadLettersPath, admin(func(ctx context.Context, w http.ResponseWriter, r *http.Request) {
		listDeadLetters(ctx, w, r, dl)
	}))
	mux.Handle("POST "+DeadLettersPath+"/{id}/replay", admin(func(ctx context.Context, w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if err := dl.Replay(ctx, id); err != nil {
			level.Warn(logger).Log("msg", "dead letter replay failed", "event_id", id, "err", err)
			EncodeError(ctx, replayError(err), w)
			return
		}
		level.Info(logger).Log("msg", "dead letter replayed", "event_id", id)
		EncodeJSON(ctx, w, map[string]string{"replayed": id})
	}))
	return Routes(mux)
}

func listDeadLetters(ctx context.Context, w http.ResponseWriter, r *http.Request, dl shop.DeadLetters) {
	limit := 100
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			EncodeError(ctx, shop.E(shop.ErrInvalid, "invalid_limit", "limit must be a whole number from 1 to 1000, got %q", s), w)
			return
		}
		limit = n
	}
	items, err := dl.DeadLetters(ctx, limit)
	if err != nil {
		EncodeError(ctx, err, w)
		return
	}
	if items == nil {
		items = []shop.DeadLetter{}
	}
	EncodeJSON(ctx, w, struct {
		Items []shop.DeadLetter `json:"items"`
	}{items})
}

// replayError keeps a replay's own failure (the handler failing again)
// from passing for a fault of the request: unless it has a kind, it is a
// conflict, the event still parked.
func replayError(err error) error {
	if shop.KindOf(err) != nil {
		return err
	}
	return shop.E(shop.ErrConflict, "replay_failed", "the event failed again and stays parked: %v", err)
}
