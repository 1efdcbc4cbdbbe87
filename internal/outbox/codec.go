package outbox

import (
	"encoding/json"
	"fmt"

	"github.com/kitshop/shop"
)

func jsonEvent(e shop.Event) ([]byte, error) {
	if e.ID == "" || e.Type == "" {
		return nil, fmt.Errorf("outbox: event needs an id and a type")
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("outbox: encode %s: %w", e.Type, err)
	}
	return raw, nil
}

func parseEvent(raw []byte) (shop.Event, error) {
	var e shop.Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return e, fmt.Errorf("outbox: decode stored event: %w", err)
	}
	return e, nil
}
