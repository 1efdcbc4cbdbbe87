package catalog

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kitshop/shop"
)

var (
	adminCtx    = shop.WithIdentity(context.Background(), shop.Identity{UserID: "admin1", Role: shop.RoleAdmin})
	customerCtx = shop.WithIdentity(context.Background(), shop.Identity{UserID: "cust1", Role: shop.RoleCustomer})
	anonCtx     = context.Background()
)

func newTestStore(t testing.TB) *SQLiteStore {
	t.Helper()
	st, err := OpenSQLiteStore(context.Background(), filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatalf("OpenSQLiteStore: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newTestService(t testing.TB, opts ...Option) (Service, *SQLiteStore) {
	t.Helper()
	st := newTestStore(t)
	return NewService(st, opts...), st
}

func validProduct(sku string) NewProduct {
	return NewProduct{SKU: sku, Name: "Blue mug " + sku, Description: "Holds tea.", Price: 1299, Currency: "EUR", Category: "kitchen"}
}

func mustCreate(t testing.TB, s Service, np NewProduct) Product {
	t.Helper()
	p, err := s.CreateProduct(adminCtx, np)
	if err != nil {
		t.Fatalf("CreateProduct(%+v): %v", np, err)
	}
	return p
}

// wantErr fails unless err has the kind and code.
func wantErr(t testing.TB, err error, kind *shop.Kind, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v/%s", kind, code)
	}
	if shop.KindOf(err) != kind || shop.CodeOf(err) != code {
		t.Fatalf("got error %v (kind %v, code %s), want kind %v, code %s", err, shop.KindOf(err), shop.CodeOf(err), kind, code)
	}
}

func ptr[T any](v T) *T { return &v }

func TestCreateAndGet(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", 3600))
	s, _ := newTestService(t, WithClock(func() time.Time { return now }))

	p, err := s.CreateProduct(adminCtx, NewProduct{SKU: "  MUG-1.b_2 ", Name: "  Blue mug ", Description: " Holds tea. ",
		Price: 0, Currency: "EUR", Category: " kitchen "})
	if err != nil {
		t.Fatal(err)
	}
	if p.ID == "" || p.SKU != "MUG-1.b_2" || p.Name != "Blue mug" || p.Description != " Holds tea. " ||
		p.Price != 0 || p.Currency != "EUR" || p.Category != "kitchen" {
		t.Fatalf("created %+v", p)
	}
	if !p.CreatedAt.Equal(now) || p.CreatedAt.Location() != time.UTC || !p.UpdatedAt.Equal(now) {
		t.Fatalf("times %v %v, want %v in UTC", p.CreatedAt, p.UpdatedAt, now)
	}
	for _, ctx := range []context.Context{anonCtx, customerCtx, adminCtx} {
		got, err := s.GetProduct(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got != p {
			t.Fatalf("GetProduct = %+v, want %+v", got, p)
		}
	}
}

func TestGetMissing(t *testing.T) {
	s, _ := newTestService(t)
	for _, id := range []string{"", shop.NewID(), "' OR 1=1 --"} {
		_, err := s.GetProduct(anonCtx, id)
		wantErr(t, err, shop.ErrNotFound, "product_not_found")
	}
}

func TestCreateValidation(t *testing.T) {
	s, _ := newTestService(t)
	long := func(n int, r string) string { return strings.Repeat(r, n) }
	cases := []struct {
		name   string
		change func(*NewProduct)
		code   string
		field  string
	}{
		{"sku empty", func(p *NewProduct) { p.SKU = "" }, "invalid_sku", "sku"},
		{"sku blank", func(p *NewProduct) { p.SKU = "   " }, "invalid_sku", "sku"},
		{"sku too long", func(p *NewProduct) { p.SKU = long(65, "A") }, "invalid_sku", "sku"},
		{"sku space inside", func(p *NewProduct) { p.SKU = "A B" }, "invalid_sku", "sku"},
		{"sku slash", func(p *NewProduct) { p.SKU = "A/B" }, "invalid_sku", "sku"},
		{"sku non-ascii letter", func(p *NewProduct) { p.SKU = "TASSE-É" }, "invalid_sku", "sku"},
		{"sku percent", func(p *NewProduct) { p.SKU = "A%" }, "invalid_sku", "sku"},
		{"name empty", func(p *NewProduct) { p.Name = "" }, "invalid_name", "name"},
		{"name blank", func(p *NewProduct) { p.Name = " \t\n" }, "invalid_name", "name"},
		{"name too long", func(p *NewProduct) { p.Name = long(201, "é") }, "invalid_name", "name"},
		{"name bad utf8", func(p *NewProduct) { p.Name = "a\xffb" }, "invalid_name", "name"},
		{"description too long", func(p *NewProduct) { p.Description = long(5001, "x") }, "invalid_description", "description"},
		{"price negative", func(p *NewProduct) { p.Price = -1 }, "invalid_price", "price"},
		{"currency empty", func(p *NewProduct) { p.Currency = "" }, "invalid_currency", "currency"},
		{"currency lower case", func(p *NewProduct) { p.Currency = "eur" }, "invalid_currency", "currency"},
		{"currency unknown", func(p *NewProduct) { p.Currency = "XYZ" }, "invalid_currency", "currency"},
		{"category too long", func(p *NewProduct) { p.Category = long(65, "c") }, "invalid_category", "category"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			np := validProduct("OK-1")
			tc.change(&np)
			_, err := s.CreateProduct(adminCtx, np)
			wantErr(t, err, shop.ErrInvalid, tc.code)
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("message %q does not name the field %s", err, tc.field)
			}
		})
	}
	page, err := s.ListProducts(anonCtx, ListQuery{})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("invalid input stored something: %v %v", page.Items, err)
	}

	// The limits themselves are allowed.
	np := validProduct(long(64, "S"))
	np.Name, np.Description, np.Category = long(200, "é"), long(5000, "d"), long(64, "ç")
	if _, err := s.CreateProduct(adminCtx, np); err != nil {
		t.Fatalf("product at the limits refused: %v", err)
	}
}

func TestRoles(t *testing.T) {
	s, _ := newTestService(t)
	p := mustCreate(t, s, validProduct("ROLE-1"))
	badToken := shop.WithAuthError(context.Background(), shop.E(shop.ErrUnauthenticated, "token_expired", "expired"))
	calls := map[string]func(ctx context.Context) error{
		"create": func(ctx context.Context) error { _, err := s.CreateProduct(ctx, validProduct("ROLE-2")); return err },
		"update": func(ctx context.Context) error {
			_, err := s.UpdateProduct(ctx, p.ID, ProductPatch{Name: ptr("x")})
			return err
		},
		"delete": func(ctx context.Context) error { return s.DeleteProduct(ctx, p.ID) },
	}
	for name, call := range calls {
		wantErr(t, call(anonCtx), shop.ErrUnauthenticated, "missing_token")
		wantErr(t, call(badToken), shop.ErrUnauthenticated, "token_expired")
		wantErr(t, call(customerCtx), shop.ErrForbidden, "forbidden")
		// Authorization comes before validation: an anonymous empty patch is 401.
		if name == "update" {
			_, err := s.UpdateProduct(anonCtx, p.ID, ProductPatch{})
			wantErr(t, err, shop.ErrUnauthenticated, "missing_token")
		}
	}
	got, err := s.GetProduct(badToken, p.ID)
	if err != nil || got != p {
		t.Fatalf("product changed by refused calls or unreadable with a bad token: %+v %v", got, err)
	}
}

func TestSKUTaken(t *testing.T) {
	s, _ := newTestService(t)
	a := mustCreate(t, s, validProduct("SKU-A"))
	b := mustCreate(t, s, validProduct("SKU-B"))

	_, err := s.CreateProduct(adminCtx, validProduct(" SKU-A "))
	wantErr(t, err, shop.ErrConflict, "sku_taken")

	_, err = s.UpdateProduct(adminCtx, b.ID, ProductPatch{SKU: ptr("SKU-A"), Name: ptr("changed")})
	wantErr(t, err, shop.ErrConflict, "sku_taken")
	if got, _ := s.GetProduct(anonCtx, b.ID); got != b {
		t.Fatalf("refused update changed the product: %+v", got)
	}
	// Keeping one's own SKU is no conflict.
	if _, err := s.UpdateProduct(adminCtx, a.ID, ProductPatch{SKU: ptr("SKU-A")}); err != nil {
		t.Fatal(err)
	}
}

func TestSKUTakenConcurrently(t *testing.T) {
	s, _ := newTestService(t)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := s.CreateProduct(adminCtx, validProduct("RACE-1"))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	created := 0
	for err := range errs {
		if err == nil {
			created++
			continue
		}
		wantErr(t, err, shop.ErrConflict, "sku_taken")
	}
	if created != 1 {
		t.Fatalf("%d products created with one SKU, want 1", created)
	}
}

func TestUpdate(t *testing.T) {
	clock := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	s, _ := newTestService(t, WithClock(now))
	p := mustCreate(t, s, validProduct("UPD-1"))

	// Only the given fields change; text is trimmed like on create.
	mu.Lock()
	clock = clock.Add(time.Minute)
	mu.Unlock()
	got, err := s.UpdateProduct(adminCtx, p.ID, ProductPatch{Name: ptr("  Red mug "), Price: ptr(int64(0))})
	if err != nil {
		t.Fatal(err)
	}
	want := p
	want.Name, want.Price, want.UpdatedAt = "Red mug", 0, clock
	if got != want {
		t.Fatalf("after update\n got %+v\nwant %+v", got, want)
	}
	if read, _ := s.GetProduct(anonCtx, p.ID); read != got {
		t.Fatalf("read back %+v, want %+v", read, got)
	}

	// Every field at once.
	got, err = s.UpdateProduct(adminCtx, p.ID, ProductPatch{SKU: ptr(" UPD-2 "), Name: ptr("N"), Description: ptr(""),
		Price: ptr(int64(5)), Currency: ptr("JPY"), Category: ptr(" ")})
	if err != nil {
		t.Fatal(err)
	}
	if got.SKU != "UPD-2" || got.Name != "N" || got.Description != "" || got.Price != 5 || got.Currency != "JPY" || got.Category != "" {
		t.Fatalf("after full update %+v", got)
	}
	if !got.CreatedAt.Equal(p.CreatedAt) {
		t.Fatalf("created_at moved: %v", got.CreatedAt)
	}

	// updated_at moves even when the clock stands still.
	again, err := s.UpdateProduct(adminCtx, p.ID, ProductPatch{Price: ptr(int64(6))})
	if err != nil {
		t.Fatal(err)
	}
	if !again.UpdatedAt.After(got.UpdatedAt) {
		t.Fatalf("updated_at %v did not move past %v", again.UpdatedAt, got.UpdatedAt)
	}

	// Now the name search sees the new name.
	page, err := s.ListProducts(anonCtx, ListQuery{Q: "n"})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("search for the new name: %v %v", page.Items, err)
	}
	page, _ = s.ListProducts(anonCtx, ListQuery{Q: "mug"})
	if len(page.Items) != 0 {
		t.Fatalf("search still finds the old name: %v", page.Items)
	}
}

func TestUpdateInvalid(t *testing.T) {
	s, _ := newTestService(t)
	p := mustCreate(t, s, validProduct("UPDV-1"))
	cases := []struct {
		patch ProductPatch
		code  string
	}{
		{ProductPatch{}, "empty_patch"},
		{ProductPatch{SKU: ptr(" ")}, "invalid_sku"},
		{ProductPatch{SKU: ptr("a b")}, "invalid_sku"},
		{ProductPatch{Name: ptr("")}, "invalid_name"},
		{ProductPatch{Name: ptr("ok"), Description: ptr(strings.Repeat("x", 5001))}, "invalid_description"},
		{ProductPatch{Price: ptr(int64(-5))}, "invalid_price"},
		{ProductPatch{Currency: ptr("usd")}, "invalid_currency"},
		{ProductPatch{Category: ptr(strings.Repeat("c", 65))}, "invalid_category"},
	}
	for _, tc := range cases {
		_, err := s.UpdateProduct(adminCtx, p.ID, tc.patch)
		wantErr(t, err, shop.ErrInvalid, tc.code)
	}
	if got, _ := s.GetProduct(anonCtx, p.ID); got != p {
		t.Fatalf("invalid updates changed the product: %+v", got)
	}
	_, err := s.UpdateProduct(adminCtx, shop.NewID(), ProductPatch{Name: ptr("x")})
	wantErr(t, err, shop.ErrNotFound, "product_not_found")
}

func TestDelete(t *testing.T) {
	s, _ := newTestService(t)
	p := mustCreate(t, s, validProduct("DEL-1"))
	keep := mustCreate(t, s, validProduct("DEL-2"))
	if err := s.DeleteProduct(adminCtx, p.ID); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetProduct(anonCtx, p.ID)
	wantErr(t, err, shop.ErrNotFound, "product_not_found")
	wantErr(t, s.DeleteProduct(adminCtx, p.ID), shop.ErrNotFound, "product_not_found")
	_, err = s.UpdateProduct(adminCtx, p.ID, ProductPatch{Name: ptr("x")})
	wantErr(t, err, shop.ErrNotFound, "product_not_found")
	if _, err := s.GetProduct(anonCtx, keep.ID); err != nil {
		t.Fatalf("the other product went too: %v", err)
	}
	// The SKU is free again.
	mustCreate(t, s, validProduct("DEL-1"))
}

func ids(ps []Product) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

// pageAll follows next_cursor to the end and returns every item.
func pageAll(t testing.TB, s Service, q ListQuery) []Product {
	t.Helper()
	var all []Product
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("paging does not end")
		}
		page, err := s.ListProducts(anonCtx, q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page.Items...)
		if page.NextCursor == "" {
			return all
		}
		if len(page.Items) != q.Limit && !(q.Limit == 0 && len(page.Items) == shop.DefaultLimit) {
			t.Fatalf("page of %d items before the last page (limit %d)", len(page.Items), q.Limit)
		}
		q.Cursor = page.NextCursor
	}
}

func TestListPaging(t *testing.T) {
	s, _ := newTestService(t)
	page, err := s.ListProducts(anonCtx, ListQuery{})
	if err != nil || page.Items == nil || len(page.Items) != 0 || page.NextCursor != "" {
		t.Fatalf("empty catalogue: %#v %v", page, err)
	}

	var created []string
	for i := range 45 {
		created = append(created, mustCreate(t, s, validProduct(fmt.Sprintf("P-%02d", i))).ID)
	}
	// Default limit 20: 20, 20, 5.
	page, err = s.ListProducts(anonCtx, ListQuery{})
	if err != nil || len(page.Items) != 20 || page.NextCursor != shop.EncodeCursor(page.Items[19].ID) {
		t.Fatalf("first page: %d items, cursor %q, %v", len(page.Items), page.NextCursor, err)
	}
	// IDs are ULIDs: they sort by creation time to the millisecond, with
	// products created in the same millisecond in random order.
	slices.Sort(created)
	for _, limit := range []int{0, 1, 7, 15, 44, 45, 46, 100} {
		all := pageAll(t, s, ListQuery{PageRequest: shop.PageRequest{Limit: limit}})
		if fmt.Sprint(ids(all)) != fmt.Sprint(created) {
			t.Fatalf("limit %d: paged %d items, want all %d in id order", limit, len(all), len(created))
		}
	}
	// A full last page has no cursor: limit 45 of 45.
	page, _ = s.ListProducts(anonCtx, ListQuery{PageRequest: shop.PageRequest{Limit: 45}})
	if len(page.Items) != 45 || page.NextCursor != "" {
		t.Fatalf("exact page: %d items, cursor %q", len(page.Items), page.NextCursor)
	}
	page, _ = s.ListProducts(anonCtx, ListQuery{PageRequest: shop.PageRequest{Limit: 44}})
	if len(page.Items) != 44 || page.NextCursor == "" {
		t.Fatalf("one short: %d items, cursor %q", len(page.Items), page.NextCursor)
	}
	// A cursor past the end gives an empty last page.
	page, err = s.ListProducts(anonCtx, ListQuery{PageRequest: shop.PageRequest{Cursor: shop.EncodeCursor(created[44])}})
	if err != nil || page.Items == nil || len(page.Items) != 0 || page.NextCursor != "" {
		t.Fatalf("past the end: %#v %v", page, err)
	}
}

func TestListInvalid(t *testing.T) {
	s, _ := newTestService(t)
	cases := []struct {
		q    ListQuery
		code string
	}{
		{ListQuery{PageRequest: shop.PageRequest{Limit: -1}}, "invalid_limit"},
		{ListQuery{PageRequest: shop.PageRequest{Limit: 101}}, "invalid_limit"},
		{ListQuery{PageRequest: shop.PageRequest{Cursor: "not a cursor!"}}, "invalid_cursor"},
		{ListQuery{PageRequest: shop.PageRequest{Cursor: "eHl6"}}, "invalid_cursor"}, // base64 of "xyz": no prefix
		{ListQuery{Q: strings.Repeat("q", 101)}, "invalid_q"},
	}
	for _, tc := range cases {
		_, err := s.ListProducts(anonCtx, tc.q)
		wantErr(t, err, shop.ErrInvalid, tc.code)
	}
	if _, err := s.ListProducts(anonCtx, ListQuery{Q: strings.Repeat("é", 100), PageRequest: shop.PageRequest{Limit: 100}}); err != nil {
		t.Fatalf("q of 100 characters and limit 100 refused: %v", err)
	}
}

func TestListFilters(t *testing.T) {
	s, _ := newTestService(t)
	mk := func(sku, name, category string) string {
		np := validProduct(sku)
		np.Name, np.Category = name, category
		return mustCreate(t, s, np).ID
	}
	cotton := mk("F-1", "100% Cotton Shirt", "clothes")
	cottonish := mk("F-2", "1000 Cotton Shirts", "clothes")
	under := mk("F-3", "snake_case mug", "kitchen")
	underLike := mk("F-4", "snakeXcase mug", "kitchen")
	backslash := mk("F-5", `back\slash MUG`, "kitchen")
	uni := mk("F-6", "ÉCLAIR Tin", "")
	all := []string{cotton, cottonish, under, underLike, backslash, uni}

	cases := []struct {
		q    ListQuery
		want []string
	}{
		{ListQuery{}, all},
		{ListQuery{Category: "clothes"}, []string{cotton, cottonish}},
		{ListQuery{Category: "kitchen"}, []string{under, underLike, backslash}},
		{ListQuery{Category: "Kitchen"}, nil},
		{ListQuery{Category: "none"}, nil},
		// A search looks for words: punctuation only separates them.
		{ListQuery{Q: "%"}, nil},
		{ListQuery{Q: "_"}, nil},
		{ListQuery{Q: `\`}, nil},
		{ListQuery{Q: "100%"}, []string{cotton, cottonish}}, // the last word may be the start of one
		{ListQuery{Q: "1000"}, []string{cottonish}},
		{ListQuery{Q: "e_c"}, nil},
		{ListQuery{Q: "snake_case"}, []string{under}},
		{ListQuery{Q: `k\s`}, nil},
		{ListQuery{Q: `back\slash`}, []string{backslash}},
		{ListQuery{Q: "MUG"}, []string{under, underLike, backslash}},
		{ListQuery{Q: "mug", Category: "clothes"}, nil},
		{ListQuery{Q: "cotton", Category: "clothes"}, []string{cotton, cottonish}},
		{ListQuery{Q: "éclair"}, []string{uni}},
		{ListQuery{Q: "eclair"}, []string{uni}},
		{ListQuery{Q: "shirt "}, []string{cotton, cottonish}},
		{ListQuery{Q: "shirt cotton"}, []string{cotton}}, // every word but the last whole
		{ListQuery{Q: "tea", Category: "kitchen"}, []string{under, underLike, backslash}},
		{ListQuery{Q: "   "}, all}, // blank is no search
	}
	for _, tc := range cases {
		slices.Sort(tc.want)
		got := ids(pageAll(t, s, ListQuery{PageRequest: shop.PageRequest{Limit: 1}, Category: tc.q.Category, Q: tc.q.Q}))
		if strings.TrimSpace(tc.q.Q) != "" {
			slices.Sort(got) // a search comes by relevance; the list in ID order
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("category %q q %q: got %v, want %v", tc.q.Category, tc.q.Q, got, tc.want)
		}
	}
}

// TestPagingWhileWriting pages through the catalogue while another goroutine
// inserts and deletes products. Every product that existed when paging
// started and was not deleted must appear exactly once, in id order.
func TestPagingWhileWriting(t *testing.T) {
	s, _ := newTestService(t)
	const seeded = 300
	existing := make([]string, 0, seeded)
	for i := range seeded {
		existing = append(existing, mustCreate(t, s, validProduct(fmt.Sprintf("SEED-%03d", i))).ID)
	}

	var (
		mu      sync.Mutex
		deleted = map[string]bool{}
	)
	stop := make(chan struct{})
	writerDone := make(chan error, 1)
	go func() {
		var mine []string
		// Bounded, so that new products (which sort last) cannot outrun
		// the reader forever on a fast machine.
		for i := 0; ; i++ {
			select {
			case <-stop:
				writerDone <- nil
				return
			default:
			}
			if i == 3*seeded {
				<-stop
				writerDone <- nil
				return
			}
			p, err := s.CreateProduct(adminCtx, validProduct(fmt.Sprintf("NEW-%05d", i)))
			if err != nil {
				writerDone <- err
				return
			}
			mine = append(mine, p.ID)
			var victim string
			switch i % 3 {
			case 0: // a seeded product, somewhere in the middle
				victim = existing[(i*37)%seeded]
			case 1: // one of our own
				victim, mine = mine[0], mine[1:]
			default:
				continue
			}
			mu.Lock()
			already := deleted[victim]
			deleted[victim] = true
			mu.Unlock()
			if already {
				continue
			}
			if err := s.DeleteProduct(adminCtx, victim); err != nil {
				writerDone <- err
				return
			}
		}
	}()

	seen := map[string]int{}
	last := ""
	q := ListQuery{PageRequest: shop.PageRequest{Limit: 7}}
	pages := 0
	for {
		page, err := s.ListProducts(anonCtx, q)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, p := range page.Items {
			if p.ID <= last {
				t.Fatalf("id %s after %s: not ascending", p.ID, last)
			}
			last = p.ID
			seen[p.ID]++
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
		time.Sleep(time.Millisecond) // let the writer interleave
	}
	close(stop)
	if err := <-writerDone; err != nil {
		t.Fatalf("writer: %v", err)
	}

	if pages < seeded/7 {
		t.Fatalf("only %d pages", pages)
	}
	missing := 0
	for _, id := range existing {
		if seen[id] == 0 && !deleted[id] {
			missing++
			t.Errorf("product %s existed, was never deleted, and was skipped", id)
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("product %s seen %d times", id, n)
		}
	}
	deletedSeeded := 0
	for _, id := range existing {
		if deleted[id] {
			deletedSeeded++
		}
	}
	t.Logf("%d pages, %d items seen, %d seeded products deleted while paging, %d writes in all", pages, len(seen), deletedSeeded, len(deleted))
	if deletedSeeded == 0 {
		t.Fatal("the writer deleted no seeded product while paging; the test proved nothing")
	}
}

func TestStoreFailureIsPlainError(t *testing.T) {
	s, st := newTestService(t)
	p := mustCreate(t, s, validProduct("FAIL-1"))
	st.Close()
	checks := map[string]error{}
	_, checks["get"] = s.GetProduct(anonCtx, p.ID)
	_, checks["create"] = s.CreateProduct(adminCtx, validProduct("FAIL-2"))
	_, checks["update"] = s.UpdateProduct(adminCtx, p.ID, ProductPatch{Name: ptr("x")})
	checks["delete"] = s.DeleteProduct(adminCtx, p.ID)
	_, checks["list"] = s.ListProducts(anonCtx, ListQuery{})
	for name, err := range checks {
		if err == nil {
			t.Errorf("%s on a closed store: no error", name)
			continue
		}
		if k := shop.KindOf(err); k != nil {
			t.Errorf("%s on a closed store: kind %v, want none (an internal error)", name, k)
		}
	}
	if err := st.Ping(context.Background()); err == nil {
		t.Error("Ping on a closed store: no error")
	}
}

func TestStoreReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "catalog.db")
	st, err := OpenSQLiteStore(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	p := mustCreate(t, NewService(st), validProduct("KEEP-1"))
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = OpenSQLiteStore(context.Background(), path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer st.Close()
	if err := st.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := NewService(st).GetProduct(anonCtx, p.ID)
	if err != nil || got != p {
		t.Fatalf("after reopen: %+v %v, want %+v", got, err, p)
	}
}

// Unusable options and a nil store are wiring bugs: NewService panics with
// a message naming them.
func TestNewServicePanics(t *testing.T) {
	st := newTestStore(t)
	cases := []struct {
		name string
		call func()
		want string
	}{
		{"nil clock", func() { NewService(st, WithClock(nil)) }, "WithClock"},
		{"nil store", func() { NewService(nil) }, "store"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if msg, _ := r.(string); !strings.Contains(msg, tc.want) {
					t.Fatalf("panic %v, want a message naming %s", r, tc.want)
				}
			}()
			tc.call()
			t.Fatal("no panic")
		})
	}
}
