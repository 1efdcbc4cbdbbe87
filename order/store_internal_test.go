package order

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/kitshop/shop/internal/sqlitedb"
)

// A database made by the first schema keeps its orders, their history and
// idempotency keys when the payments migration rebuilds the tables.
func TestMigrationKeepsOrders(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "order.db")
	first, err := fs.ReadFile(migrationFiles, "migrations/0001_init.sql")
	if err != nil {
		t.Fatal(err)
	}
	old, err := sqlitedb.Open(ctx, path, fstest.MapFS{"0001_init.sql": {Data: first}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO orders(id, user_id, status, lines, total, currency, created_at, expires_at, payment_id)
			VALUES ('o1', 'alice', 'paid', '[{"product_id":"p1","name":"P","unit_price":5,"quantity":2}]', 10, 'USD', ?, ?, 'pay_1')`,
			[]any{now.UnixNano(), now.Add(time.Hour).UnixNano()}},
		{`INSERT INTO order_history(order_id, seq, from_status, to_status, actor, at) VALUES ('o1', 1, '', 'pending', 'alice', ?)`, []any{now.UnixNano()}},
		{`INSERT INTO order_history(order_id, seq, from_status, to_status, actor, at) VALUES ('o1', 2, 'pending', 'paid', 'alice', ?)`, []any{now.UnixNano()}},
		{`INSERT INTO idempotency_keys(user_id, key, request_hash, order_id) VALUES ('alice', 'k1', 'h1', 'o1')`, nil},
	} {
		if _, err := old.W.ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	st, err := OpenSQLiteStore(ctx, path)
	if err != nil {
		t.Fatalf("migrating: %v", err)
	}
	defer st.Close()
	o, err := st.Get(ctx, "o1")
	if err != nil || o.Status != StatusPaid || o.PaymentID != "pay_1" || len(o.History) != 2 || o.Lines[0].Quantity != 2 {
		t.Fatalf("order after migrating = %+v, %v", o, err)
	}
	c, ok, err := st.KeyClaim(ctx, "alice", "k1")
	if err != nil || !ok || c.OrderID != "o1" || c.RequestHash != "h1" {
		t.Fatalf("key after migrating = %+v %v %v", c, ok, err)
	}
	refunded, err := st.Transition(ctx, "o1", Step{To: StatusRefunded, By: "admin", At: now, RefundID: "re_1"})
	if err != nil || refunded.RefundID != "re_1" || len(refunded.History) != 3 {
		t.Fatalf("refund after migrating = %+v, %v", refunded, err)
	}
}
