package inventory

import "github.com/kitshop/shop/inbox"

// Consumer is the name the inventory's inbox records its events under and
// the name of its queue on a broker.
const Consumer = "inventory"

// Inbox returns the inventory's inbox on the store's own database, so that
// each handled event is recorded in the same transaction as its effect on
// the stock. Wrap EventHandlers with it:
//
//	ib := store.Inbox(inbox.Logger(logger))
//	ib.Subscribe(subscriber, inventory.EventHandlers(svc, logger))
//
// A store of your own gets the same guarantee by calling inbox.Mark in its
// write transactions, on the database it gives inbox.New.
func (s *SQLiteStore) Inbox(opts ...inbox.Option) *inbox.Inbox {
	return inbox.New(s.db.W, Consumer, append([]inbox.Option{inbox.ReadFrom(s.db.R)}, opts...)...)
}
